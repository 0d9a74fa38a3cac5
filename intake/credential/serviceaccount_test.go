package credential

import (
	"context"
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

	"hosho-intake/config"
	"hosho-intake/intake/credential/oauthtest"
)

// TestServiceAccount plays Google's token endpoint for a service account with domain-wide
// delegation (RFC 7523 JWT bearer grant): the key file's token_uri points to it, and it
// checks the assertion's signature with the key's public half and its claims.
func TestServiceAccount(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	const (
		email   = "hosho-intake@agency-project.iam.gserviceaccount.com"
		subject = "denshi-shosho@pref.shimane.example"
		scope   = "https://mail.google.com/"
	)
	var mu sync.Mutex
	var claims map[string]any
	var problems []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf(format, args...))
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
		}
		if g := r.Form.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			bad("grant_type %q", g)
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if len(parts) != 3 {
			bad("assertion has %d parts", len(parts))
			return
		}
		var header map[string]any
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(h, &header); err != nil || header["alg"] != "RS256" {
			bad("header %s", h)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
			bad("signature: %v", err)
			return
		}
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if err := json.Unmarshal(p, &claims); err != nil {
			bad("claims %s", p)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, oauthtest.AccessToken)
	}))
	defer srv.Close()

	keyFile, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "agency-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "1234567890", "token_uri": srv.URL + "/token",
	})
	o := config.OAuth2{ServiceAccountFile: "/etc/hosho-intake/imap-oauth2-service-account", ServiceAccount: config.NewSecret(string(keyFile)),
		Subject: subject, Scope: []string{scope}}
	src, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Secret(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the token endpoint refused the assertion: %v", problems)
	}
	if err != nil || got != oauthtest.AccessToken {
		t.Fatalf("Secret() = %q, %v", got, err)
	}
	want := map[string]any{"iss": email, "sub": subject, "scope": scope, "aud": srv.URL + "/token"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if exp <= iat || exp-iat > 3600 {
		t.Errorf("claims iat %v exp %v: want exp after iat, at most an hour", iat, exp)
	}

	// A key that is not a service account's is refused before any request.
	o.ServiceAccount = config.NewSecret(`{"type":"authorized_user"}`)
	if _, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, t.TempDir(), nil); err == nil {
		t.Error("New with an authorized_user file: no error")
	}
}
