package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// ServiceAccountEmail is the client_email of the key ServiceAccount makes.
const ServiceAccountEmail = "hosho-intake@agency-project.iam.gserviceaccount.com"

// ServiceAccount plays Google's token endpoint for a service account with domain-wide
// delegation (the JWT bearer grant of RFC 7523): it answers only an assertion signed RS256
// with the private key of Key, and keeps the claims it was sent.
type ServiceAccount struct {
	*httptest.Server
	// Key is the JSON key file as the Google Cloud console downloads it; its token_uri is
	// this server.
	Key []byte

	mu       sync.Mutex
	claims   []map[string]any
	problems []string
}

// NewServiceAccount makes a fresh RSA key and the endpoint that trusts it.
func NewServiceAccount(t *testing.T) *ServiceAccount {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa := &ServiceAccount{}
	sa.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		claims, err := verifyAssertion(r, &key.PublicKey)
		sa.mu.Lock()
		defer sa.mu.Unlock()
		if err != nil {
			sa.problems = append(sa.problems, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
			return
		}
		sa.claims = append(sa.claims, claims)
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, AccessToken)
	}))
	t.Cleanup(sa.Close)
	sa.Key, _ = json.Marshal(map[string]string{
		"type": "service_account", "project_id": "agency-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": ServiceAccountEmail, "client_id": "1234567890", "token_uri": sa.URL + "/token",
	})
	return sa
}

// Claims are the claims of the assertions accepted, and why others were refused.
func (sa *ServiceAccount) Claims() (accepted []map[string]any, refused []string) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	return append([]map[string]any(nil), sa.claims...), append([]string(nil), sa.problems...)
}

func verifyAssertion(r *http.Request, pub *rsa.PublicKey) (map[string]any, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	if g := r.Form.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return nil, fmt.Errorf("grant_type %q", g)
	}
	parts := strings.Split(r.Form.Get("assertion"), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("assertion has %d parts", len(parts))
	}
	var header map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(h, &header); err != nil || header["alg"] != "RS256" {
		return nil, fmt.Errorf("header %s", h)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var claims map[string]any
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(c, &claims); err != nil {
		return nil, fmt.Errorf("claims %s", c)
	}
	return claims, nil
}
