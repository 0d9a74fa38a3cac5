package mailbox

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/emersion/go-sasl"
)

// XOAuth2 is the mechanism name of Google's and Microsoft's XOAUTH2, which predates
// OAUTHBEARER (RFC 7628) and is what Gmail and Microsoft 365 document for IMAP.
const XOAuth2 = "XOAUTH2"

// xoauth2Client implements XOAUTH2 as Google specifies it
// (https://developers.google.com/gmail/imap/xoauth2-protocol): the initial response is
// "user=" {user} ^A "auth=Bearer " {token} ^A ^A. go-sasl has no client for it.
type xoauth2Client struct {
	user, token string
}

// NewXOAuth2Client returns an XOAUTH2 SASL client.
func NewXOAuth2Client(user, token string) sasl.Client {
	return &xoauth2Client{user: user, token: token}
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

// Next receives the only challenge XOAUTH2 has: a JSON error after a refused token. The
// protocol has the client answer with an empty response and then the server say NO; but
// go-imap beta.8 encodes an empty continuation response as "=", which RFC 4959 defines only
// for initial responses, so we end the exchange with the error and the caller closes the
// connection.
func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	return nil, tokenError(XOAuth2, challenge)
}

// oauthBearerClient is go-sasl's OAUTHBEARER (RFC 7628) client with its error challenge
// turned into our error, for the same reason as xoauth2Client.Next (RFC 7628 section 3.2.3
// has the client answer %x01, which would work, but closing is equally final).
type oauthBearerClient struct{ sasl.Client }

func newOAuthBearerClient(user, token, addr string) sasl.Client {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	// RFC 7628 section 3.1: host and port are what the client connected to.
	return oauthBearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{
		Username: user, Token: token, Host: host, Port: port,
	})}
}

func (c oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	return nil, tokenError(sasl.OAuthBearer, challenge)
}

// tokenRefused is a bearer token refused in a SASL challenge.
type tokenRefused struct {
	mech, status, scope string
	raw                 []byte
}

func (e *tokenRefused) Error() string {
	switch {
	case e.status == "":
		return fmt.Sprintf("%s refused: %q", e.mech, e.raw)
	case e.scope != "":
		return fmt.Sprintf("%s refused: status %s, scope %s", e.mech, e.status, e.scope)
	}
	return fmt.Sprintf("%s refused: status %s", e.mech, e.status)
}

// tokenError reads the JSON a server sends when it refuses a bearer token
// (RFC 7628 section 3.2.2; XOAUTH2 uses the same shape).
func tokenError(mech string, challenge []byte) error {
	var st struct {
		Status string `json:"status"`
		Scope  string `json:"scope"`
	}
	json.Unmarshal(challenge, &st)
	return &tokenRefused{mech: mech, status: st.Status, scope: st.Scope, raw: challenge}
}
