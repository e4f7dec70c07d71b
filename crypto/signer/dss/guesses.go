package dss

// Everything about CryptoPro DSS's wire format that this package relies on
// is in this file, each with where it comes from. "Documented" means the
// public DSS documentation states it; "seen" means public integration code
// uses it and we found no documentation; "guess" means neither and it must
// be checked against a real DSS (and changed here, in one line) before
// production. Public documentation: https://dss.cryptopro.ru/docs/ (DSS
// 2.0; the v1 "documents" endpoint is kept there "for backward
// compatibility" and does not support operation confirmation, which a
// service key without second-factor confirmation does not need).

// Paths, relative to Config.BaseURL (the Signing Service's REST API root,
// e.g. https://dss.example.ru/SignServer/rest/api).
const (
	// pathDocuments signs a document or, with paramHash, a hash.
	// Documented: https://dss.cryptopro.ru/docs/articles/rest/signserver/samples.html
	// ("Примеры запросов на создание подписи": POST
	// /SignServer/rest/api/documents) and .../endpoints/documents.html.
	pathDocuments = "/documents"
	// pathCertificates lists the user's certificates (GET), an array of
	// DSSCertificateEx. Documented: https://dss.cryptopro.ru/docs3284/articles/rest/signserver/structs/certstruct.html
	// ("Получении списка сертификатов (метод /certificates)").
	pathCertificates = "/certificates"
)

// The sign request body: a Document with Content (base64) and a Signature
// of SignatureParams. Field names documented (samples.html; also seen in
// public clients posting {"Content", "Signature": {"Type", "Parameters",
// "CertificateId", "PinCode"}}).
type documentRequest struct {
	Content   string          `json:"Content"`
	Signature signatureParams `json:"Signature"`
}

type signatureParams struct {
	Type          string            `json:"Type"`
	Parameters    map[string]string `json:"Parameters"`
	CertificateID int               `json:"CertificateId"`
	// PinCode is omitted when the key has no PIN. Documented field name;
	// whether DSS accepts an absent one for a PIN-less key is a guess
	// (samples send "").
	PinCode string `json:"PinCode,omitempty"`
}

const (
	// signatureTypeRaw is the raw ГОСТ Р 34.10 signature format
	// ("Необработанная подпись ГОСТ Р 34.10-2001/ГОСТ Р 34.10-2012 (Raw)").
	// Documented name of the format; the enum string "GOST3410" is seen in
	// public clients and the DSS SignatureType enum.
	signatureTypeRaw = "GOST3410"
	// paramHash, set to paramTrue, says Content is a hash value, not the
	// document ("Необработанная подпись хэш-значения документа").
	// Documented that hash signing exists; the parameter's exact name and
	// its string "True" are seen in public clients ("Hash": "False" for a
	// document), so "True" for a hash is a guess.
	paramHash = "Hash"
	paramTrue = "True"
)

// Content for hash signing is the digest exactly as Streebog outputs it
// (the bytes signer.Algorithm.NewHash returns), base64-encoded. Guess:
// CryptoPro's own hash APIs take the hash value in that order. Were DSS to
// expect it reversed, every answer would fail verification with
// ErrSignatureInvalid, never pass silently.

// The sign response. Documented: the documents endpoint returns "string -
// ... в кодировке Base64", i.e. a JSON string. Seen: some clients also
// accept an object; decodeSignature accepts a bare string only.

// signatureByteOrder is how DSS lays out a raw ГОСТ signature. Guess: DSS
// runs on CryptoPro CSP, whose CryptSignHash returns the signature
// byte-reversed (little-endian) relative to RFC 4491's s || r. The signer
// does not depend on this guess being right: it verifies the returned
// signature with the certificate's key in this order and, failing that, in
// the other, and remembers which one DSS uses.
const signatureByteOrder = orderReversed

// The certificate list element, DSSCertificateEx. Field names documented
// (certstruct.html): ID int, DName, CertificateBase64, IsDefault, HasPin.
type certificateInfo struct {
	ID                int    `json:"ID"`
	CertificateBase64 string `json:"CertificateBase64"`
	IsDefault         bool   `json:"IsDefault"`
	HasPin            bool   `json:"HasPin"`
}

// defaultCertificateID asks DSS for the user's default certificate.
// Documented (samples.html: "в качестве идентификатора сертификата ...
// следует передавать значение 0").
const defaultCertificateID = 0

// Error bodies. Documented: DSS answers errors with an HTTP status and an
// error code such as invalid_signature_params (samples.html, "Типовые
// ошибки") — the JSON shape carrying them is not shown. Guess: the OAuth
// style {"error", "error_description"} that DSS's identity centre uses;
// the ASP.NET Web API default {"Message"} is accepted too (seen in
// clients that print it).
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"Message"`
}

// OAuth token request (RFC 6749 §4.3, §4.4) at Config.TokenURL, e.g.
// https://dss.example.ru/STS/oauth/token. Seen: public clients post
// grant_type=password with username, password, client_id and resource to
// /STS/oauth/token and read access_token, token_type and expires_in.
// Guess: client_credentials with client_secret works for a DSS OAuth
// client registered as confidential. The resource value differs between
// public examples (urn:cryptopro:dss:signserver:signserver,
// urn:cryptopro:dss:frontend:signserver), so it is configuration with
// this default.
const (
	defaultResource    = "urn:cryptopro:dss:signserver:signserver"
	grantPassword      = "password"
	grantClientCreds   = "client_credentials"
	formGrantType      = "grant_type"
	formClientID       = "client_id"
	formClientSecret   = "client_secret"
	formUsername       = "username"
	formPassword       = "password"
	formResource       = "resource"
	tokenTypeBearer    = "bearer"
	defaultTokenExpiry = 300 // seconds, when expires_in is absent (seen: DSS sends 300)
)

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}
