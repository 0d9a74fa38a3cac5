package credential

import (
	"context"
	"testing"

	"hosho-intake/config"
	"hosho-intake/intake/credential/oauthtest"
)

// TestServiceAccount: a Google service account with domain-wide delegation gets its token
// from the key file's token_uri (a fake Google on loopback) with an assertion signed by the
// key, for the subject, the scope and that endpoint.
func TestServiceAccount(t *testing.T) {
	sa := oauthtest.NewServiceAccount(t)
	const (
		subject = "denshi-shosho@pref.shimane.example"
		scope   = "https://mail.google.com/"
	)
	o := config.OAuth2{ServiceAccountFile: "/etc/hosho-intake/imap-oauth2-service-account", ServiceAccount: config.NewSecret(string(sa.Key)),
		Subject: subject, Scope: []string{scope}}
	src, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Secret(context.Background())
	claims, refused := sa.Claims()
	if len(refused) > 0 {
		t.Fatalf("the token endpoint refused the assertion: %v", refused)
	}
	if err != nil || got != oauthtest.AccessToken || len(claims) != 1 {
		t.Fatalf("Secret() = %q, %v (%d assertions)", got, err, len(claims))
	}
	want := map[string]any{"iss": oauthtest.ServiceAccountEmail, "sub": subject, "scope": scope, "aud": sa.URL + "/token"}
	for k, v := range want {
		if claims[0][k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[0][k], v)
		}
	}
	iat, _ := claims[0]["iat"].(float64)
	exp, _ := claims[0]["exp"].(float64)
	if exp <= iat || exp-iat > 3600 {
		t.Errorf("claims iat %v exp %v: want exp after iat, at most an hour", iat, exp)
	}

	// A key that is not a service account's is refused before any request.
	o.ServiceAccount = config.NewSecret(`{"type":"authorized_user"}`)
	if _, err := New("imap", config.AuthXOAuth2, config.Secret{}, o, t.TempDir(), nil); err == nil {
		t.Error("New with an authorized_user file: no error")
	}
}
