/** Verification snippets shown on the signature help page. */

export interface Snippet {
  id: string;
  title: string;
  install: string;
  code: string;
}

export const SNIPPETS: Snippet[] = [
  {
    id: 'python',
    title: 'Python',
    install: 'pip install standardwebhooks   # or: pip install svix',
    code: `from standardwebhooks.webhooks import Webhook   # or: from svix.webhooks import Webhook

wh = Webhook("whsec_...")  # the endpoint's signing secret

def handle(request):
    body = request.get_data()          # the raw bytes, not re-serialised JSON
    try:
        event = wh.verify(body, dict(request.headers))
    except Exception:
        return "invalid signature", 400
    # Dedupe on request.headers["webhook-id"]: it is the same on every retry.
    return "", 204`,
  },
  {
    id: 'node',
    title: 'Node.js',
    install: 'npm install standardwebhooks   # or: npm install svix',
    code: `import { Webhook } from "standardwebhooks"; // or: import { Webhook } from "svix";
import express from "express";

const wh = new Webhook(process.env.WEBHOOK_SECRET); // "whsec_..."
const app = express();

app.post("/webhooks", express.raw({ type: "application/json" }), (req, res) => {
  try {
    const event = wh.verify(req.body.toString("utf8"), req.headers);
    // Dedupe on req.headers["webhook-id"].
    res.sendStatus(204);
  } catch {
    res.status(400).send("invalid signature");
  }
});`,
  },
  {
    id: 'go',
    title: 'Go',
    install: 'standard library only',
    code: `import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// verify checks webhook-signature against "id.timestamp.body".
func verify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(float64(time.Now().Unix()-sec)) > 300 {
		return false // older or newer than 5 minutes
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Split(h.Get("webhook-signature"), " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}`,
  },
  {
    id: 'ruby',
    title: 'Ruby',
    install: 'standard library only (openssl, base64)',
    code: `require "openssl"
require "base64"

# headers: a Hash with lower-case names; body: the raw request body String.
def verify(secret, headers, body)
  key = Base64.strict_decode64(secret.delete_prefix("whsec_"))
  id = headers.fetch("webhook-id")
  ts = headers.fetch("webhook-timestamp")
  return false if (Time.now.to_i - Integer(ts)).abs > 300

  expected = Base64.strict_encode64(OpenSSL::HMAC.digest("SHA256", key, "#{id}.#{ts}.#{body}"))
  headers.fetch("webhook-signature").split(" ").any? do |entry|
    version, signature = entry.split(",", 2)
    version == "v1" && signature && OpenSSL.secure_compare(signature, expected)
  end
end`,
  },
];
