#!/usr/bin/env python3
"""Fake OpenAI-compatible embeddings server for the etlkit tests (Python 3 standard library only).

    python3 fake_embed.py --port N [--data DIR] [--log FILE] [--port-file F] [--knobs JSON]
                          [--api-key KEY] [--dim N]

    POST /v1/embeddings   (also /embeddings)
    {"model": "...", "input": "text" | ["text", ...], "encoding_format": "float",
     "dimensions": N}
    -> {"object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [floats]}, ...],
        "model": "...", "usage": {"prompt_tokens": n, "total_tokens": n}}

Shapes as in OpenAI's API reference.  Vectors are deterministic: a signed feature hash of the
lower-cased words and word pairs of the text (sublinear term frequency), L2-normalized, so the
same text always gets the same vector and a search for a phrase finds the text it came from.

Models: text-embedding-3-small (1536 dimensions) and text-embedding-3-large (3072) take
"dimensions"; text-embedding-ada-002 (1536) refuses it with a 400, as OpenAI does; any model
named fake-* has --dim dimensions (default 384) and takes "dimensions"; any other model is a 404
model_not_found.  Validation as OpenAI: "input" must be a non-empty string or a list of 1..2048
non-empty strings, "model" is required, "encoding_format" is "float" or "base64" (base64:
little-endian float32), "dimensions" a positive integer; errors are
{"error": {"message", "type", "param", "code"}}.  With --api-key (or the api_key knob) only
"Authorization: Bearer KEY" is accepted (401 invalid_api_key otherwise).

Knobs (POST /_control; generic ones of fakelib: slow_ms, errors_5xx, html_error, truncate,
drop_connection):
    rate_limit: {"after": N, "count": K, "retry_after": S}   429 rate_limit_exceeded with
        retry-after: S (seconds), retry-after-ms and x-ratelimit-* headers
    errors_5xx: {"after", "count", "status": 500}            OpenAI's server_error body
    api_key: "KEY"                                           require this bearer token
Stats (GET /_stats) add "inputs": texts embedded by successful requests; every recorded request
has "inputs" (the number of texts it carried).
"""

import base64
import hashlib
import math
import os
import re
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakelib import ApiError, FakeServer, Response, common_args, serve  # noqa: E402

MODELS = {
    "text-embedding-3-small": (1536, True),
    "text-embedding-3-large": (3072, True),
    "text-embedding-ada-002": (1536, False),
}
WORD = re.compile(r"\w+", re.UNICODE)


def fake_vector(text, dim):
    words = [w.lower() for w in WORD.findall(text)]
    feats = {}
    for i, w in enumerate(words):
        feats["w:" + w] = feats.get("w:" + w, 0) + 1
        if i:
            k = "p:" + words[i - 1] + " " + w
            feats[k] = feats.get(k, 0) + 1
    v = [0.0] * dim
    for k, tf in feats.items():
        h = int.from_bytes(hashlib.blake2b(k.encode("utf-8"), digest_size=8).digest(), "big")
        weight = 1.0 + math.log(tf)
        v[h % dim] += -weight if (h >> 63) & 1 else weight
    norm = math.sqrt(sum(x * x for x in v))
    if norm == 0:
        v[0] = 1.0
        norm = 1.0
    return [x / norm for x in v]


def openai_error(status, message, etype="invalid_request_error", param=None, code=None,
                 headers=None):
    return Response.json({"error": {"message": message, "type": etype, "param": param,
                                    "code": code}}, status, headers=headers)


class FakeEmbed(FakeServer):
    name = "fake-embed"
    fault_knobs = ("rate_limit", "errors_5xx", "html_error", "drop_connection")

    def __init__(self, args):
        self.default_dim = args.dim
        super().__init__(args)
        if args.api_key:
            self.set_knob("api_key", args.api_key)

    def load_data(self):
        pass

    def _reset_stats(self):
        super()._reset_stats()
        self.stats["inputs"] = 0

    def classify(self, req):
        if req.path in ("/v1/embeddings", "/embeddings") and req.method == "POST":
            req.endpoint = "POST /v1/embeddings"

    def check_auth(self, req):
        key = self.knob("api_key")
        if not key:
            return None
        h = req.auth_header() or ""
        if h[:7].lower() == "bearer " and h[7:].strip() == key:
            return None
        shown = h[7:].strip()
        shown = (shown[:3] + "*" * 4 + shown[-4:]) if len(shown) > 8 else "****"
        msg = ("You didn't provide an API key. You need to provide your API key in an "
               "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
               if not h else
               "Incorrect API key provided: %s. You can find your API key at "
               "https://platform.openai.com/account/api-keys." % shown)
        return openai_error(401, msg, code="invalid_api_key" if h else None)

    def fault_response(self, name, spec, req):
        if name == "rate_limit":
            wait = spec.get("retry_after", 1)
            return openai_error(
                429, "Rate limit reached for requests. Limit: 3000 / min. Please try again "
                "in %ss." % wait, etype="requests", code="rate_limit_exceeded",
                headers=[("retry-after", str(int(wait))),
                         ("retry-after-ms", str(int(float(wait) * 1000))),
                         ("x-ratelimit-limit-requests", "3000"),
                         ("x-ratelimit-remaining-requests", "0"),
                         ("x-ratelimit-reset-requests", "%ss" % wait)])
        status = int(spec.get("status", 500))
        return openai_error(status, "The server had an error while processing your request. "
                            "Sorry about that!", etype="server_error")

    def error_response(self, req, err):
        if err.code == "invalid_json":
            return openai_error(400, "We could not parse the JSON body of your request. "
                                "(HINT: This likely means you aren't using your HTTP library "
                                "correctly.)")
        if err.code == "not_found":
            return openai_error(404, "Invalid URL (%s %s)" % (req.method, req.path))
        return openai_error(err.status, err.details[0] if err.details else err.code,
                            param=err.details[1] if len(err.details) > 1 else None)

    def route(self, req, extra):
        if req.endpoint != "POST /v1/embeddings":
            raise ApiError(404, "not_found")
        body = req.json()
        if not isinstance(body, dict):
            raise ApiError(400, "bad", "Invalid type for request body: expected an object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "bad", "you must provide a model parameter", "model")
        inp = body.get("input")
        if isinstance(inp, str):
            texts = [inp]
        elif isinstance(inp, list) and all(isinstance(t, str) for t in inp):
            texts = inp
        else:
            raise ApiError(400, "bad", "'input' must be a string or an array of strings "
                           "(token arrays are not supported by this fake)", "input")
        extra["inputs"] = len(texts)
        if not texts or len(texts) > 2048:
            raise ApiError(400, "bad", "'$.input' is invalid: an array must hold 1 to 2048 "
                           "items", "input")
        if any(t == "" for t in texts):
            raise ApiError(400, "bad", "'$.input' is invalid. Please check the API reference: "
                           "https://platform.openai.com/docs/api-reference.", "input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            raise ApiError(400, "bad", "Invalid value for 'encoding_format': expected one of "
                           "float or base64.", "encoding_format")
        if model in MODELS:
            dim, flexible = MODELS[model]
        elif model.startswith("fake-"):
            dim, flexible = self.default_dim, True
        else:
            return openai_error(404, "The model `%s` does not exist or you do not have access "
                                "to it." % model, code="model_not_found")
        want = body.get("dimensions")
        if want is not None:
            if not flexible:
                raise ApiError(400, "bad", "This model does not support specifying "
                               "dimensions.", "dimensions")
            if not isinstance(want, int) or isinstance(want, bool) or want < 1:
                raise ApiError(400, "bad", "Invalid 'dimensions': integer below minimum "
                               "value. Expected a value >= 1.", "dimensions")
            dim = want
        data = []
        tokens = 0
        for i, t in enumerate(texts):
            v = fake_vector(t, dim)
            if fmt == "base64":
                emb = base64.b64encode(struct.pack("<%df" % dim, *v)).decode()
            else:
                emb = v
            data.append({"object": "embedding", "index": i, "embedding": emb})
            tokens += max(1, len(t) // 4)
        with self.lock:
            self.stats["inputs"] += len(texts)
        return Response.json({"object": "list", "data": data, "model": model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def main():
    p = common_args("Fake OpenAI-compatible embeddings server")
    p.add_argument("--api-key", help="accept only this bearer token")
    p.add_argument("--dim", type=int, default=384, help="dimensions of fake-* models")
    args = p.parse_args()
    serve(FakeEmbed(args), args)


if __name__ == "__main__":
    main()
