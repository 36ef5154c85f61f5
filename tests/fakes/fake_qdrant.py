#!/usr/bin/env python3
"""Fake Qdrant REST server for the etlkit tests (Python 3 standard library only).

    python3 fake_qdrant.py --port N [--data DIR] [--log FILE] [--port-file F] [--knobs JSON]
                           [--api-key KEY]

In-memory collections of single unnamed dense vectors, with the shapes of Qdrant's REST API
(https://api.qdrant.tech): answers are {"result": ..., "status": "ok", "time": s}, errors
{"status": {"error": "..."}, "time": s}.

    GET    /collections                              {"result": {"collections": [{"name"}]}}
    GET    /collections/{name}                       info: config.params.vectors {size, distance},
                                                     points_count, payload_schema {field:
                                                     {"data_type", "params"?, "points"}}; 404
                                                     when missing
    GET    /collections/{name}/exists                {"result": {"exists": bool}}
    PUT    /collections/{name}                       {"vectors": {"size": N, "distance": "Cosine"|
                                                     "Dot"|"Euclid"|"Manhattan"}}; 409 if it exists
    DELETE /collections/{name}
    PUT    /collections/{name}/index?wait=true       {"field_name": F, "field_schema": "keyword"|
                                                     "integer"|... | {"type": ..., params}} ->
                                                     {"result": {"operation_id", "status":
                                                     "completed"}}; again: replaced, still 200
    DELETE /collections/{name}/index/{field_name}
    PUT    /collections/{name}/points?wait=true      {"points": [{"id", "vector", "payload"}]} or
                                                     {"batch": {"ids", "vectors", "payloads"}}
    POST   /collections/{name}/points/delete         {"points": [ids]} or {"filter": ...}
    GET    /collections/{name}/points/{id}
    POST   /collections/{name}/points/query          {"query": [floats] | {"nearest": [..]},
                                                     "filter", "limit" (10), "offset",
                                                     "with_payload", "score_threshold"}
                                                     -> {"result": {"points": [{"id", "version",
                                                     "score", "payload"}]}}
    POST   /collections/{name}/points/search         legacy: {"vector", "filter", "limit", ...}
    POST   /collections/{name}/points/scroll         {"filter", "limit", "offset", "with_payload"}
    POST   /collections/{name}/points/count          {"filter", "exact"}

What real Qdrant enforces and matters here: a vector of another size than the collection's is
a 400 ("Wrong input: Vector dimension error: expected dim: 384, got 3"); an unknown collection
is a 404 ("Not found: Collection `x` doesn't exist!"); a point id must be an unsigned integer or
a UUID (400 format error otherwise); creating an existing collection is a 409; a payload
index names a field_name and a known field_schema (400 otherwise; without one the type is
inferred from the stored values, as Qdrant does); Cosine
collections store normalized vectors and score by dot product.  Filters: must / should /
must_not with {"key", "match": {"value"} | {"any": [...]} | {"except": [...]}}, {"has_id": [...]},
{"is_empty": {"key"}}, nested filters.  With --api-key only "api-key: KEY" (or
"Authorization: Bearer KEY") is accepted (401 otherwise).

POST /_reset zeroes the counters and knobs and keeps the collections (they are the dataset);
DELETE /collections/{name} removes one.  Every recorded request (GET /_stats) carries "points" (upserts: how many) and, for searches,
"filter" and "limit", for payload indexes "field_name" and "field_schema".  Knobs: the generic ones of fakelib (slow_ms, errors_5xx, html_error,
drop_connection, truncate); api_key.
"""

import math
import os
import re
import sys
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakelib import ApiError, FakeServer, Response, common_args, serve  # noqa: E402

NAME_RX = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
DISTANCES = ("Cosine", "Dot", "Euclid", "Manhattan")
# PayloadSchemaType: the values of field_schema (or of its "type") and of payload_schema's
# "data_type".
SCHEMA_TYPES = ("keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid")
ROUTES = [
    ("GET", re.compile(r"^/collections/?$"), "list"),
    ("GET", re.compile(r"^/collections/(?P<name>[^/]+)$"), "info"),
    ("GET", re.compile(r"^/collections/(?P<name>[^/]+)/exists$"), "exists"),
    ("PUT", re.compile(r"^/collections/(?P<name>[^/]+)$"), "create"),
    ("DELETE", re.compile(r"^/collections/(?P<name>[^/]+)$"), "drop"),
    ("PUT", re.compile(r"^/collections/(?P<name>[^/]+)/index$"), "index"),
    ("DELETE", re.compile(r"^/collections/(?P<name>[^/]+)/index/(?P<field>[^/]+)$"),
     "drop_index"),
    ("PUT", re.compile(r"^/collections/(?P<name>[^/]+)/points$"), "upsert"),
    ("POST", re.compile(r"^/collections/(?P<name>[^/]+)/points/delete$"), "delete"),
    ("POST", re.compile(r"^/collections/(?P<name>[^/]+)/points/query$"), "query"),
    ("POST", re.compile(r"^/collections/(?P<name>[^/]+)/points/search$"), "search"),
    ("POST", re.compile(r"^/collections/(?P<name>[^/]+)/points/scroll$"), "scroll"),
    ("POST", re.compile(r"^/collections/(?P<name>[^/]+)/points/count$"), "count"),
    ("GET", re.compile(r"^/collections/(?P<name>[^/]+)/points/(?P<id>[^/]+)$"), "point"),
]


def point_id(raw):
    """Qdrant's ExtendedPointId: an unsigned integer or a UUID (any of its text forms)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw >= 0 else None
    if isinstance(raw, str):
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            return None
    return None


class FakeQdrant(FakeServer):
    name = "fake-qdrant"

    def __init__(self, args):
        self.collections = {}
        self.op_id = 0
        super().__init__(args)
        if args.api_key:
            self.set_knob("api_key", args.api_key)

    def load_data(self):
        pass

    # ----- plumbing ------------------------------------------------------------------------
    def classify(self, req):
        req.route, req.params = None, {}
        for method, rx, name in ROUTES:
            m = rx.match(req.path)
            if m and req.method == method:
                req.route, req.params = name, m.groupdict()
                break

    def check_auth(self, req):
        key = self.knob("api_key")
        if not key:
            return None
        h = req.headers.get("api-key") or ""
        auth = req.auth_header() or ""
        if h == key or (auth[:7].lower() == "bearer " and auth[7:].strip() == key):
            return None
        return Response.json({"status": {"error": "Must provide an API key or an "
                                         "Authorization bearer token"}, "time": 0.0}, 401)

    def ok(self, result, t0):
        return Response.json({"result": result, "status": "ok", "time": time.monotonic() - t0})

    def error_response(self, req, err):
        if err.code == "invalid_json":
            msg = "Format error in JSON body: %s" % (err.details[0] if err.details else "")
        else:
            msg = err.details[0] if err.details else err.code
        return Response.json({"status": {"error": msg}, "time": 0.0}, err.status)

    def fault_response(self, name, spec, req):
        status = int(spec.get("status", 503))
        return Response.json({"status": {"error": "Service Unavailable"}, "time": 0.0}, status)

    def coll(self, name):
        c = self.collections.get(name)
        if c is None:
            raise ApiError(404, "missing", "Not found: Collection `%s` doesn't exist!" % name)
        return c

    def vector(self, c, raw, what="Vector"):
        if isinstance(raw, dict) and "nearest" in raw:
            raw = raw["nearest"]
        if not isinstance(raw, list) or not all(isinstance(x, (int, float)) and
                                                not isinstance(x, bool) for x in raw):
            raise ApiError(400, "bad", "Format error in JSON body: data did not match any "
                           "variant of untagged enum VectorStruct")
        if len(raw) != c["size"]:
            raise ApiError(400, "bad", "Wrong input: %s dimension error: expected dim: %d, "
                           "got %d" % (what, c["size"], len(raw)))
        v = [float(x) for x in raw]
        if c["distance"] == "Cosine":
            n = math.sqrt(sum(x * x for x in v))
            if n > 0:
                v = [x / n for x in v]
        return v

    # ----- filters -------------------------------------------------------------------------
    def cond(self, cid, payload, c):
        if not isinstance(c, dict):
            raise ApiError(400, "bad", "Format error in JSON body: invalid condition")
        if "must" in c or "should" in c or "must_not" in c:
            return self.match_filter(cid, payload, c)
        if "has_id" in c:
            return cid in {point_id(x) for x in c["has_id"]}
        if "is_empty" in c:
            v = payload.get(c["is_empty"].get("key"))
            return v is None or v == []
        key, m = c.get("key"), c.get("match")
        if not isinstance(key, str) or not isinstance(m, dict):
            raise ApiError(400, "bad", "Format error in JSON body: data did not match any "
                           "variant of untagged enum Condition")
        v = payload
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        vals = v if isinstance(v, list) else [v]
        if "value" in m:
            return any(x == m["value"] and type(x) is type(m["value"]) for x in vals)
        if "any" in m:
            return any(x in m["any"] for x in vals)
        if "except" in m:
            return all(x not in m["except"] for x in vals) and v is not None
        raise ApiError(400, "bad", "Format error in JSON body: unknown match")

    def match_filter(self, cid, payload, f):
        if not f:
            return True
        must = f.get("must") or []
        should = f.get("should") or []
        must_not = f.get("must_not") or []
        for lst in (must, should, must_not):
            if isinstance(lst, dict):
                raise ApiError(400, "bad", "Format error in JSON body: expected a list")
        if not all(self.cond(cid, payload, c) for c in must):
            return False
        if should and not any(self.cond(cid, payload, c) for c in should):
            return False
        return not any(self.cond(cid, payload, c) for c in must_not)

    def selected(self, c, flt):
        return [(pid, p) for pid, p in sorted(c["points"].items(), key=lambda kv: str(kv[0]))
                if self.match_filter(pid, p["payload"], flt or {})]

    def out_point(self, pid, p, with_payload, score=None):
        o = {"id": pid, "version": p["version"]}
        if score is not None:
            o["score"] = score
        if with_payload is True:
            o["payload"] = p["payload"]
        elif isinstance(with_payload, list):
            o["payload"] = {k: v for k, v in p["payload"].items() if k in with_payload}
        return o

    def score(self, c, v, q):
        if c["distance"] in ("Cosine", "Dot"):
            return sum(a * b for a, b in zip(v, q))
        if c["distance"] == "Euclid":
            return math.sqrt(sum((a - b) ** 2 for a, b in zip(v, q)))
        return sum(abs(a - b) for a, b in zip(v, q))

    # ----- routes --------------------------------------------------------------------------
    def route(self, req, extra):
        t0 = time.monotonic()
        if not req.route:
            return Response(404, b"", content_type=None)
        body = req.json() if req.method in ("PUT", "POST") else {}
        if req.method in ("PUT", "POST") and not isinstance(body, dict):
            raise ApiError(400, "bad", "Format error in JSON body: expected an object")
        name = req.params.get("name")
        with self.lock:
            return getattr(self, "r_" + req.route)(req, body, name, extra, t0)

    def r_list(self, req, body, name, extra, t0):
        return self.ok({"collections": [{"name": n} for n in sorted(self.collections)]}, t0)

    def r_info(self, req, body, name, extra, t0):
        c = self.coll(name)
        return self.ok({"status": "green", "optimizer_status": "ok",
                        "indexed_vectors_count": 0, "points_count": len(c["points"]),
                        "segments_count": 1,
                        "config": {"params": {"vectors": {"size": c["size"],
                                                          "distance": c["distance"]},
                                              "shard_number": 1, "replication_factor": 1,
                                              "write_consistency_factor": 1,
                                              "on_disk_payload": True},
                                   "hnsw_config": {"m": 16, "ef_construct": 100,
                                                   "full_scan_threshold": 10000},
                                   "optimizer_config": {}, "wal_config": {}},
                        "payload_schema": self.payload_schema(c)}, t0)

    def payload_schema(self, c):
        """PayloadIndexInfo per indexed field: data_type, params (when given), points."""
        out = {}
        for field, (dtype, params) in sorted(c["indexes"].items()):
            n = sum(1 for p in c["points"].values() if self.field_values(p["payload"], field))
            info = {"data_type": dtype, "points": n}
            if params is not None:
                info["params"] = params
            out[field] = info
        return out

    @staticmethod
    def field_values(payload, key):
        v = payload
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            return []
        return [x for x in (v if isinstance(v, list) else [v]) if x is not None]

    def r_exists(self, req, body, name, extra, t0):
        return self.ok({"exists": name in self.collections}, t0)

    def r_create(self, req, body, name, extra, t0):
        if not NAME_RX.match(name or ""):
            raise ApiError(422, "bad", "Validation error in path parameters: [name: invalid]")
        if name in self.collections:
            raise ApiError(409, "exists", "Wrong input: Collection `%s` already exists!" % name)
        vec = body.get("vectors")
        if not isinstance(vec, dict) or "size" not in vec or "distance" not in vec:
            raise ApiError(400, "bad", "Format error in JSON body: missing field `vectors`"
                           if vec is None else "Format error in JSON body: data did not match "
                           "any variant of untagged enum VectorsConfig")
        size = vec["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 1 or size > 65536:
            raise ApiError(422, "bad", "Validation error in JSON body: [vectors.size: value "
                           "%s invalid, must be from 1 to 65536]" % size)
        if vec["distance"] not in DISTANCES:
            raise ApiError(400, "bad", "Format error in JSON body: unknown variant `%s`, "
                           "expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan`"
                           % vec["distance"])
        self.collections[name] = {"size": size, "distance": vec["distance"], "points": {},
                                  "indexes": {}}
        return self.ok(True, t0)

    def r_drop(self, req, body, name, extra, t0):
        existed = self.collections.pop(name, None) is not None
        return self.ok(existed, t0)

    def r_index(self, req, body, name, extra, t0):
        c = self.coll(name)
        field = body.get("field_name")
        if not isinstance(field, str) or not field:
            raise ApiError(400, "bad", "Format error in JSON body: missing field `field_name`"
                           if field is None else "Format error in JSON body: invalid type: "
                           "expected a string for `field_name`")
        schema = body.get("field_schema")
        params = None
        if isinstance(schema, dict):
            params, schema = schema, schema.get("type")
        if schema is None and "field_schema" not in body:
            vals = [x for p in c["points"].values()
                    for x in self.field_values(p["payload"], field)]
            kinds = {"integer" if isinstance(x, int) and not isinstance(x, bool) else
                     "float" if isinstance(x, float) else "bool" if isinstance(x, bool) else
                     "keyword" if isinstance(x, str) else None for x in vals}
            if len(kinds) != 1 or None in kinds:
                raise ApiError(400, "bad", "Bad request: Can't infer type for field `%s`. "
                               "Please specify `field_schema`" % field)
            schema = kinds.pop()
        if schema not in SCHEMA_TYPES:
            raise ApiError(400, "bad", "Format error in JSON body: data did not match any "
                           "variant of untagged enum PayloadFieldSchema")
        extra["field_name"] = field
        extra["field_schema"] = body.get("field_schema")   # as sent (null: inferred)
        # Idempotent: the same index again is a no-op, another type replaces it.
        c["indexes"][field] = (schema, params)
        self.op_id += 1
        wait = (req.arg("wait") or "false").lower() == "true"
        return self.ok({"operation_id": self.op_id,
                        "status": "completed" if wait else "acknowledged"}, t0)

    def r_drop_index(self, req, body, name, extra, t0):
        c = self.coll(name)
        c["indexes"].pop(req.params["field"], None)
        self.op_id += 1
        return self.ok({"operation_id": self.op_id, "status": "completed"}, t0)

    def r_upsert(self, req, body, name, extra, t0):
        c = self.coll(name)
        if "points" in body:
            pts = body["points"]
            if not isinstance(pts, list):
                raise ApiError(400, "bad", "Format error in JSON body: invalid type for points")
        elif "batch" in body:
            b = body["batch"]
            ids, vecs = b.get("ids") or [], b.get("vectors") or []
            pls = b.get("payloads") or [None] * len(ids)
            if len(ids) != len(vecs) or len(ids) != len(pls):
                raise ApiError(400, "bad", "Wrong input: number of ids and vectors must be equal")
            pts = [{"id": i, "vector": v, "payload": p} for i, v, p in zip(ids, vecs, pls)]
        else:
            raise ApiError(400, "bad", "Format error in JSON body: data did not match any "
                           "variant of untagged enum PointInsertOperations")
        extra["points"] = len(pts)
        staged = []
        for p in pts:
            pid = point_id(p.get("id") if isinstance(p, dict) else None)
            if pid is None:
                raise ApiError(400, "bad", "Format error in JSON body: value %s is not a valid "
                               "point ID, valid values are either an unsigned integer or a UUID"
                               % (p.get("id") if isinstance(p, dict) else p))
            v = self.vector(c, p.get("vector"))
            payload = p.get("payload") or {}
            if not isinstance(payload, dict):
                raise ApiError(400, "bad", "Format error in JSON body: payload must be an "
                               "object")
            staged.append((pid, v, payload))
        # All or nothing, as one update operation.
        self.op_id += 1
        for pid, v, payload in staged:
            old = c["points"].get(pid)
            c["points"][pid] = {"vector": v, "payload": payload,
                                "version": (old["version"] + 1) if old else self.op_id}
        wait = (req.arg("wait") or "false").lower() == "true"
        return self.ok({"operation_id": self.op_id,
                        "status": "completed" if wait else "acknowledged"}, t0)

    def r_delete(self, req, body, name, extra, t0):
        c = self.coll(name)
        if "points" in body:
            for raw in body["points"]:
                c["points"].pop(point_id(raw), None)
        elif "filter" in body:
            for pid, _ in self.selected(c, body["filter"]):
                c["points"].pop(pid, None)
        self.op_id += 1
        return self.ok({"operation_id": self.op_id, "status": "completed"}, t0)

    def r_point(self, req, body, name, extra, t0):
        c = self.coll(name)
        pid = point_id(int(req.params["id"]) if req.params["id"].isdigit() else req.params["id"])
        p = c["points"].get(pid)
        if p is None:
            raise ApiError(404, "missing", "Not found: No point with id %s found"
                           % req.params["id"])
        o = self.out_point(pid, p, True)
        o["vector"] = p["vector"]
        return self.ok(o, t0)

    def _nearest(self, c, q, body, extra):
        flt = body.get("filter")
        limit = body.get("limit", 10)
        offset = body.get("offset", 0) or 0
        if not isinstance(limit, int) or limit < 1:
            raise ApiError(422, "bad", "Validation error in JSON body: [limit: value %s "
                           "invalid, must be 1 or more]" % limit)
        extra["filter"] = flt
        extra["limit"] = limit
        hits = [(self.score(c, p["vector"], q), pid, p) for pid, p in self.selected(c, flt)]
        reverse = c["distance"] in ("Cosine", "Dot")
        hits.sort(key=lambda h: (-h[0] if reverse else h[0], str(h[1])))
        thr = body.get("score_threshold")
        if thr is not None:
            hits = [h for h in hits if (h[0] >= thr if reverse else h[0] <= thr)]
        wp = body.get("with_payload", False)
        return [self.out_point(pid, p, wp, s) for s, pid, p in hits[offset:offset + limit]]

    def r_query(self, req, body, name, extra, t0):
        c = self.coll(name)
        if "query" not in body or body["query"] is None:
            pts = [self.out_point(pid, p, body.get("with_payload", False))
                   for pid, p in self.selected(c, body.get("filter"))][:body.get("limit", 10)]
            extra["filter"] = body.get("filter")
            return self.ok({"points": pts}, t0)
        q = self.vector(c, body["query"], "Query vector")
        return self.ok({"points": self._nearest(c, q, body, extra)}, t0)

    def r_search(self, req, body, name, extra, t0):
        c = self.coll(name)
        if "limit" not in body:
            raise ApiError(400, "bad", "Format error in JSON body: missing field `limit`")
        q = self.vector(c, body.get("vector"), "Query vector")
        return self.ok(self._nearest(c, q, body, extra), t0)

    def r_scroll(self, req, body, name, extra, t0):
        c = self.coll(name)
        limit = body.get("limit", 10)
        sel = self.selected(c, body.get("filter"))
        start = 0
        if body.get("offset") is not None:
            off = point_id(body["offset"])
            ids = [str(pid) for pid, _ in sel]
            start = ids.index(str(off)) if str(off) in ids else len(ids)
        page = sel[start:start + limit]
        nxt = sel[start + limit][0] if start + limit < len(sel) else None
        wp = body.get("with_payload", True)
        return self.ok({"points": [self.out_point(pid, p, wp) for pid, p in page],
                        "next_page_offset": nxt}, t0)

    def r_count(self, req, body, name, extra, t0):
        c = self.coll(name)
        return self.ok({"count": len(self.selected(c, body.get("filter")))}, t0)


def main():
    p = common_args("Fake Qdrant REST server")
    p.add_argument("--api-key", help="accept only this API key")
    args = p.parse_args()
    serve(FakeQdrant(args), args)


if __name__ == "__main__":
    main()
