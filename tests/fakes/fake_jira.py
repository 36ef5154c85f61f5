#!/usr/bin/env python3
"""Fake Jira Cloud REST v3 server for the etlkit tests (Python 3 standard library only).

    python3 fake_jira.py --port N --data DIR [--log FILE] [--port-file F] [--knobs JSON]
                         [--credentials EMAIL:TOKEN]

Serves the dataset in DIR (format: tests/fakes/README.md) with the response shapes of Jira Cloud
(see /work/shared/api-samples/jira and the "Provider facts" of DESIGN.md).  Where the samples and
the current Cloud documentation disagree, the documentation wins; each such place says so.

Endpoints (everything else: 404 in Jira's error shape):
    GET      /rest/api/3/project/search?expand=issueTypes&startAt=&maxResults=&keys=
    GET      /rest/api/3/project/{projectIdOrKey}
    GET      /rest/api/3/field
    GET      /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes[/{issueTypeId}]
    GET      /rest/api/3/project/{projectIdOrKey}/statuses
    GET/POST /rest/api/3/search/jql
    GET/POST /rest/api/3/search                       410 Gone, as on Cloud since 2025
    POST     /rest/api/3/changelog/bulkfetch
    GET      /rest/api/3/issue/{issueIdOrKey}/changelog?startAt=&maxResults=
    GET      /rest/api/3/issue/{issueIdOrKey}
    GET      /rest/api/3/myself, /rest/api/3/serverInfo
    GET      /rest/dev-status/{latest|1.0}/issue/detail?issueId=&applicationType=&dataType=

Provider knobs (besides the generic ones of fakelib):
    rate_limit: {"after": N, "count": K, "retry_after": S, "near_limit_after": M, "endpoint": ...}
        matching requests N+1..N+K get 429 + Retry-After: S + X-RateLimit-Reset (ISO-8601);
        every matching request after the M-th carries X-RateLimit-NearLimit: true.
        ({"near_limit_after": M} alone gives the header and no 429.)
    errors_5xx: {"after", "count", "status": 503, "endpoint"}
    changelog_embed_max: 40          histories kept by expand=changelog on search/jql
    changelog_embed_order: "newest_first" | "oldest_first"
    bulkfetch_order: "issue" | "date"
    jql_timezone: "+0000"            zone used for JQL dates written without one ("yyyy-MM-dd HH:mm")
    credentials: "email:token"       when set, only this Basic credential is accepted
"""

import base64
import datetime
import json
import os
import re
import sys

sys.dont_write_bytecode = True       # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakelib import (ApiError, FakeServer, Response, common_args, fingerprint,  # noqa: E402
                     iso_utc, make_token, parse_token, read_json, serve, utcnow)

DEFAULT_ISSUE_EXPAND = "operations,versionedRepresentations,editmeta,changelog,renderedFields"
PROJECT_EXPAND = "description,lead,issueTypes,url,projectKeys,permissions,insight"
RATE_LIMIT_BODY = {
    # as in api-samples/jira/error_429_rate_limited_cloud.json
    "errorMessages": ["The request has been rate-limited. Please try again later."],
    "errors": {},
    "status": 429,
}
SEARCH_GONE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
               "API. A full migration guideline is available at "
               "https://developer.atlassian.com/changelog/#CHANGE-2046")

# Date formats accepted by JQL for values without a zone.
JQL_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
JQL_DATE_HELP = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
                 "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def jira_time_ms(s):
    """'2024-01-15T10:00:00.000+0000' -> epoch milliseconds."""
    if not s:
        return None
    dt = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(dt.timestamp() * 1000)


def parse_tz(spec):
    """'+0200', '+02:00', '-0530' or minutes -> datetime.timezone."""
    if isinstance(spec, (int, float)):
        return datetime.timezone(datetime.timedelta(minutes=int(spec)))
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", str(spec or "+0000").strip())
    if not m:
        return datetime.timezone.utc
    mins = int(m.group(2)) * 60 + int(m.group(3))
    return datetime.timezone(datetime.timedelta(minutes=-mins if m.group(1) == "-" else mins))


# --------------------------------------------------------------------------------------------
# JQL: the subset etlkit sends, plus enough to be useful in tests.
#   query   := [or_expr] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
#   or_expr := and_expr {OR and_expr};  and_expr := not_expr {AND not_expr}
#   not_expr:= NOT not_expr | '(' or_expr ')' | clause
#   clause  := field op value | field [NOT] IN '(' value {, value} ')' | field IS [NOT] EMPTY|NULL
# Fields: project, key/issuekey/id, updated, created, resolved/resolutiondate, issuetype/type,
# status, statusCategory.  Anything else is a 400 like on the real service.
# --------------------------------------------------------------------------------------------

class JqlError(Exception):
    pass


TOKEN_RE = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>!=|>=|<=|!~|=|>|<|~)
  | (?P<punct>[(),])
  | (?P<word>[^\s(),=!<>~"']+)
)""", re.X)

DATE_FIELDS = {"updated": "updated", "updateddate": "updated", "created": "created",
               "createddate": "created", "resolved": "resolutiondate",
               "resolutiondate": "resolutiondate"}
KNOWN_FIELDS = {"project", "key", "issuekey", "id", "issuetype", "type", "status",
                "statuscategory"} | set(DATE_FIELDS)
ORDER_FIELDS = {"updated", "created", "id", "key", "issuekey", "resolutiondate", "resolved"}


def tokenize(text):
    pos, out = 0, []
    text = text or ""
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError("Error in the JQL Query: The character '%s' is a reserved JQL "
                           "character. (line 1, character %d)" % (text[pos], pos + 1))
        kind = m.lastgroup
        val = m.group(kind)
        if kind == "str":
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out.append((kind, val))
        pos = m.end()
    return out


class Jql:
    def __init__(self, text):
        self.text = text or ""
        self.toks = tokenize(self.text)
        self.i = 0
        self.where = None
        self.order = []
        if self.toks and not self._kw("order"):
            self.where = self._or()
        if self._kw("order"):
            self.i += 1
            if not self._kw("by"):
                raise JqlError("Error in the JQL Query: Expecting 'by' but got '%s'."
                               % self._peek_val())
            self.i += 1
            while True:
                kind, f = self._next("field name")
                f = f.lower()
                if f not in ORDER_FIELDS:
                    raise JqlError("Not able to sort using field '%s'." % f)
                direction = "asc"
                if self._kw("asc") or self._kw("desc"):
                    direction = self.toks[self.i][1].lower()
                    self.i += 1
                self.order.append((f, direction))
                if self._punct(","):
                    self.i += 1
                    continue
                break
        if self.i < len(self.toks):
            raise JqlError("Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                           "'%s'." % self.toks[self.i][1])

    # -- token helpers
    def _peek_val(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else "<end of query>"

    def _kw(self, word):
        return (self.i < len(self.toks) and self.toks[self.i][0] == "word"
                and self.toks[self.i][1].lower() == word)

    def _punct(self, p):
        return self.i < len(self.toks) and self.toks[self.i] == ("punct", p)

    def _next(self, what):
        if self.i >= len(self.toks):
            raise JqlError("Error in the JQL Query: Expecting %s but reached the end of the "
                           "query." % what)
        t = self.toks[self.i]
        self.i += 1
        return t

    # -- grammar
    def _or(self):
        left = self._and()
        while self._kw("or"):
            self.i += 1
            left = ("or", left, self._and())
        return left

    def _and(self):
        left = self._not()
        while self._kw("and"):
            self.i += 1
            left = ("and", left, self._not())
        return left

    def _not(self):
        if self._kw("not"):
            self.i += 1
            return ("not", self._not())
        if self._punct("("):
            self.i += 1
            e = self._or()
            if not self._punct(")"):
                raise JqlError("Error in the JQL Query: Expecting ')' but got '%s'."
                               % self._peek_val())
            self.i += 1
            return e
        return self._clause()

    def _value(self):
        kind, v = self._next("a value")
        if kind not in ("str", "word"):
            raise JqlError("Error in the JQL Query: Expecting a value but got '%s'." % v)
        return v

    def _clause(self):
        kind, field = self._next("a field")
        if kind not in ("word", "str"):
            raise JqlError("Error in the JQL Query: Expecting a field name but got '%s'." % field)
        f = field.lower()
        if f not in KNOWN_FIELDS:
            raise JqlError("Field '%s' does not exist or you do not have permission to view it."
                           % field)
        if self._kw("is"):
            self.i += 1
            neg = False
            if self._kw("not"):
                neg = True
                self.i += 1
            if not (self._kw("empty") or self._kw("null")):
                raise JqlError("Error in the JQL Query: Expecting 'EMPTY' but got '%s'."
                               % self._peek_val())
            self.i += 1
            return ("empty", f, neg)
        neg = False
        if self._kw("not"):
            neg = True
            self.i += 1
        if self._kw("in"):
            self.i += 1
            if not self._punct("("):
                raise JqlError("Error in the JQL Query: Expecting '(' but got '%s'."
                               % self._peek_val())
            self.i += 1
            vals = [self._value()]
            while self._punct(","):
                self.i += 1
                vals.append(self._value())
            if not self._punct(")"):
                raise JqlError("Error in the JQL Query: Expecting ')' but got '%s'."
                               % self._peek_val())
            self.i += 1
            return ("in", f, vals, neg)
        if neg:
            raise JqlError("Error in the JQL Query: Expecting 'IN' after 'NOT'.")
        kind, op = self._next("an operator")
        if kind != "op":
            raise JqlError("Error in the JQL Query: Expecting operator but got '%s'." % op)
        return ("cmp", f, op, self._value())


def jql_date_ms(value, field, tz, now_ms):
    v = value.strip()
    if re.fullmatch(r"\d+", v):
        return int(v)                           # epoch milliseconds
    if re.fullmatch(r"[-+]?\s*(\d+\s*[wdhm]\s*)+", v):
        sign = -1 if v.startswith("-") else 1
        total = 0
        for n, unit in re.findall(r"(\d+)\s*([wdhm])", v):
            total += int(n) * {"w": 604800, "d": 86400, "h": 3600, "m": 60}[unit]
        return now_ms + sign * total * 1000
    for fmt in JQL_DATE_FORMATS:
        try:
            dt = datetime.datetime.strptime(v, fmt).replace(tzinfo=tz)
            return int(dt.timestamp() * 1000)
        except ValueError:
            pass
    raise JqlError("Date value '%s' for field '%s' is invalid. %s" % (value, field, JQL_DATE_HELP))


# --------------------------------------------------------------------------------------------

ROUTES = [
    ("GET", r"/rest/api/3/project/search", "project_search"),
    ("GET", r"/rest/api/3/project/(?P<p>[^/]+)/statuses", "project_statuses"),
    ("GET", r"/rest/api/3/project/(?P<p>[^/]+)", "project_get"),
    ("GET", r"/rest/api/3/field", "fields"),
    ("GET", r"/rest/api/3/issue/createmeta/(?P<p>[^/]+)/issuetypes", "createmeta_types"),
    ("GET", r"/rest/api/3/issue/createmeta/(?P<p>[^/]+)/issuetypes/(?P<t>[^/]+)",
     "createmeta_fields"),
    ("GET|POST", r"/rest/api/3/search/jql", "search_jql"),
    ("GET|POST", r"/rest/api/[23]/search", "search_gone"),
    ("POST", r"/rest/api/3/changelog/bulkfetch", "bulkfetch"),
    ("GET", r"/rest/api/3/issue/(?P<i>[^/]+)/changelog", "issue_changelog"),
    ("GET", r"/rest/api/3/issue/(?P<i>[^/]+)", "issue_get"),
    ("GET", r"/rest/api/3/myself", "myself"),
    ("GET", r"/rest/api/3/serverInfo", "server_info"),
    ("GET", r"/rest/dev-status/(?:latest|1\.0)/issue/detail", "dev_status"),
]
TEMPLATES = {
    "project_search": "/rest/api/3/project/search",
    "project_statuses": "/rest/api/3/project/{projectIdOrKey}/statuses",
    "project_get": "/rest/api/3/project/{projectIdOrKey}",
    "fields": "/rest/api/3/field",
    "createmeta_types": "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
    "createmeta_fields": "/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}",
    "search_jql": "/rest/api/3/search/jql",
    "search_gone": "/rest/api/3/search",
    "bulkfetch": "/rest/api/3/changelog/bulkfetch",
    "issue_changelog": "/rest/api/3/issue/{issueIdOrKey}/changelog",
    "issue_get": "/rest/api/3/issue/{issueIdOrKey}",
    "myself": "/rest/api/3/myself",
    "server_info": "/rest/api/3/serverInfo",
    "dev_status": "/rest/dev-status/latest/issue/detail",
}
COMPILED = [(m.split("|"), re.compile(p + r"/?\Z"), name) for m, p, name in ROUTES]

SYSTEM_CREATE_FIELDS = ("summary", "issuetype", "project", "description", "reporter", "assignee",
                        "priority", "labels", "components", "fixVersions", "duedate", "parent")


class FakeJira(FakeServer):
    name = "fake-jira"
    fault_knobs = ("rate_limit", "errors_5xx", "html_error", "drop_connection")

    def __init__(self, args):
        super().__init__(args)
        if args.credentials:
            self.set_knob("credentials", args.credentials)

    # ----- dataset -------------------------------------------------------------------------
    def load_data(self):
        d = self.data_dir
        if not d or not os.path.isdir(d):
            raise SystemExit("fake_jira: --data DIR is required (got %r)" % d)
        projects = read_json(os.path.join(d, "projects.json"), [])
        fields = read_json(os.path.join(d, "fields.json"), [])
        issues, histories = [], {}
        idir = os.path.join(d, "issues")
        for fn in sorted(os.listdir(idir)) if os.path.isdir(idir) else []:
            if not fn.endswith(".json"):
                continue
            doc = read_json(os.path.join(idir, fn))
            docs = doc if isinstance(doc, list) else [doc]
            for issue in docs:
                issue = dict(issue)
                cl = issue.pop("changelog", None) or {}
                hs = list(cl.get("histories") or [])
                hs.sort(key=lambda h: (jira_time_ms(h.get("created")) or 0,
                                       int(h["id"]) if str(h.get("id", "")).isdigit() else 0))
                histories[str(issue["id"])] = hs
                f = issue.get("fields") or {}
                issue["_updated"] = jira_time_ms(f.get("updated"))
                issue["_created"] = jira_time_ms(f.get("created"))
                issue["_resolved"] = jira_time_ms(f.get("resolutiondate"))
                issues.append(issue)
        issues.sort(key=lambda i: int(i["id"]))
        with self.lock:
            self.projects = projects
            self.fields = fields
            self.field_by_id = {f["id"]: f for f in fields}
            self.issues = issues
            self.histories = histories
            self.by_id = {str(i["id"]): i for i in issues}
            self.by_key = {i["key"].upper(): i for i in issues}

    def find_project(self, ref):
        for p in self.projects:
            if str(p.get("id")) == ref or str(p.get("key", "")).upper() == ref.upper():
                return p
        return None

    def find_issue(self, ref):
        return self.by_id.get(str(ref)) or self.by_key.get(str(ref).upper())

    # ----- pipeline hooks ------------------------------------------------------------------
    def set_knob(self, name, value):
        if (name == "rate_limit" and isinstance(value, dict) and "count" not in value
                and "after" not in value and "near_limit_after" in value):
            value = dict(value, count=0)
        super().set_knob(name, value)

    def classify(self, req):
        for methods, rx, name in COMPILED:
            m = rx.match(req.path)
            if m and req.method in methods:
                req.route = name
                req.params = m.groupdict()
                req.endpoint = "%s %s" % (req.method, TEMPLATES[name])
                return
        req.route = None
        req.params = {}
        req.endpoint = "%s %s" % (req.method, req.path)

    def check_auth(self, req):
        h = req.auth_header() or ""
        ok = h[:6].lower() == "basic " and len(h) > 6
        creds = self.knob("credentials")
        if ok and creds:
            try:
                ok = base64.b64decode(h[6:].strip()).decode("utf-8") == creds
            except (ValueError, UnicodeDecodeError):
                ok = False
        if ok:
            return None
        return Response.json({"errorMessages": ["Client must be authenticated to access this "
                                                "resource."], "errors": {}}, 401,
                             headers=[("WWW-Authenticate", 'Basic realm="protected-area"')])

    def fault_response(self, name, spec, req):
        if name == "rate_limit":
            wait = spec.get("retry_after", 1)
            # X-RateLimit-Reset: ISO-8601 at minute precision ("2024-01-15T10:01Z", the form
            # the rate-limiting docs show), rounded up so it is never before Retry-After ends.
            reset = utcnow() + datetime.timedelta(seconds=float(wait or 0) + 59)
            r = Response.json(RATE_LIMIT_BODY, 429)
            r.add_header("Retry-After", int(wait))
            r.add_header("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%MZ"))
            r.add_header("X-RateLimit-Limit", spec.get("limit", 100))
            r.add_header("X-RateLimit-Remaining", 0)
            r.add_header("RateLimit-Reason", spec.get("reason", "jira-burst-based"))
            return r
        status = int(spec.get("status", 503))
        msg = {500: "Internal server error", 502: "Bad Gateway", 503: "Service Unavailable",
               504: "Gateway Timeout"}.get(status, "Server error")
        return Response.json({"errorMessages": [msg], "errors": {}}, status)

    def post_faults(self, req, resp):
        w = self.windows.get("rate_limit")
        spec = self.knobs.get("rate_limit") or {}
        m = spec.get("near_limit_after") if isinstance(spec, dict) else None
        if w is not None and m is not None and w.matches(req) and w.seen > int(m):
            resp.add_header("X-RateLimit-NearLimit", "true")
        return super().post_faults(req, resp)

    def error_response(self, req, err):
        if err.code == "invalid_json":
            msg = "Invalid request payload. Refer to the REST API documentation and try again."
        elif err.code == "invalid_integer":
            msg = "The value '%s' is invalid for parameter '%s'." % (err.details[1],
                                                                     err.details[0])
        else:
            msg = err.details[0] if err.details else err.code
        body = {"errorMessages": [msg], "errors": {}}
        if err.code == "jql":
            body["warningMessages"] = []
        return Response.json(body, err.status)

    # ----- routing -------------------------------------------------------------------------
    def route(self, req, extra):
        if not req.route:
            raise ApiError(404, "not_found", "null for uri: %s%s" % (req.base_url, req.path))
        if req.method == "POST":
            body = req.json()
            if isinstance(body, dict) and len(req.body) <= 4096:
                extra["body"] = body
        return getattr(self, "r_" + req.route)(req)

    def page_url(self, req, start_at, max_results):
        q = {k: v for k, v in req.query.items() if k not in ("startAt", "maxResults")}
        q["startAt"] = [str(start_at)]
        q["maxResults"] = [str(max_results)]
        from urllib.parse import urlencode
        return "%s%s?%s" % (req.base_url, req.path, urlencode(q, doseq=True))

    def paged(self, req, items, key, default_max, cap):
        start = max(0, req.int_arg("startAt", 0))
        mx = req.int_arg("maxResults", default_max)
        mx = self.page_cap(min(max(mx, 1), cap))
        page = items[start:start + mx]
        is_last = start + len(page) >= len(items)
        out = {"self": self.page_url(req, start, mx)}
        if not is_last:
            out["nextPage"] = self.page_url(req, start + mx, mx)
        out.update({"maxResults": mx, "startAt": start, "total": len(items), "isLast": is_last,
                    key: page})
        return out

    # --- projects, fields, metadata
    def r_project_search(self, req):
        expand = ",".join(req.args("expand")).split(",")
        keys = [k.upper() for v in req.args("keys") for k in v.split(",") if k]
        query = (req.arg("query") or "").lower()
        vals = []
        for p in self.projects:
            if keys and p.get("key", "").upper() not in keys:
                continue
            if query and query not in p.get("key", "").lower() and \
                    query not in p.get("name", "").lower():
                continue
            p = dict(p)
            p.setdefault("expand", PROJECT_EXPAND)
            if "issueTypes" not in expand:
                p.pop("issueTypes", None)
            vals.append(p)
        return Response.json(self.paged(req, vals, "values", 50, 100))

    def r_project_get(self, req):
        p = self.find_project(req.params["p"])
        if not p:
            raise ApiError(404, "nf", "No project could be found with key '%s'." % req.params["p"])
        p = dict(p)
        p.setdefault("expand", PROJECT_EXPAND)
        return Response.json(p)

    def r_fields(self, req):
        return Response.json(self.fields)

    def r_project_statuses(self, req):
        p = self.find_project(req.params["p"])
        if not p:
            raise ApiError(404, "nf", "No project could be found with key '%s'." % req.params["p"])
        doc = read_json(os.path.join(self.data_dir, "statuses", p["key"] + ".json"), [])
        return Response.json(doc)

    def createmeta_for(self, project):
        doc = read_json(os.path.join(self.data_dir, "createmeta", project["key"] + ".json"))
        if doc is not None:
            return doc
        derived = []
        for f in self.fields:
            if f.get("custom") or f["id"] in SYSTEM_CREATE_FIELDS:
                derived.append({"required": f["id"] in ("summary", "issuetype", "project"),
                                "schema": f.get("schema", {}), "name": f.get("name"),
                                "key": f.get("key", f["id"]), "fieldId": f["id"],
                                "hasDefaultValue": False,
                                "operations": ["set"] if f.get("custom") else ["set"]})
        return {str(t["id"]): derived for t in project.get("issueTypes", [])}

    def r_createmeta_types(self, req):
        p = self.find_project(req.params["p"])
        if not p:
            raise ApiError(404, "nf", "No project could be found with key '%s'." % req.params["p"])
        types = p.get("issueTypes", [])
        start = max(0, req.int_arg("startAt", 0))
        mx = self.page_cap(min(max(req.int_arg("maxResults", 50), 1), 200))
        # PageOfCreateMetaIssueTypes: {"issueTypes", "maxResults", "startAt", "total"}
        return Response.json({"maxResults": mx, "startAt": start, "total": len(types),
                              "issueTypes": types[start:start + mx]})

    def r_createmeta_fields(self, req):
        p = self.find_project(req.params["p"])
        if not p:
            raise ApiError(404, "nf", "No project could be found with key '%s'." % req.params["p"])
        meta = self.createmeta_for(p)
        t = req.params["t"]
        if t not in meta:
            raise ApiError(404, "nf", "Issue type with id '%s' does not exist or is not "
                                      "available in project '%s'." % (t, p["key"]))
        items = meta[t]
        start = max(0, req.int_arg("startAt", 0))
        mx = self.page_cap(min(max(req.int_arg("maxResults", 50), 1), 200))
        # PageOfCreateMetaIssueTypeWithField.  The Cloud OpenAPI schema lists both "fields" and
        # "results" (the docs example shows "results"); the responses clients observe carry
        # "fields", so the fake sends "fields" only: a client should accept either key.
        return Response.json({"maxResults": mx, "startAt": start, "total": len(items),
                              "fields": items[start:start + mx]})

    # --- search
    def r_search_gone(self, req):
        raise ApiError(410, "gone", SEARCH_GONE)

    def search_params(self, req):
        if req.method == "POST":
            b = req.json()
            if not isinstance(b, dict):
                raise ApiError(400, "bad", "Invalid request payload.")
            fields = b.get("fields")
            if isinstance(fields, str):
                fields = fields.split(",")
            expand = b.get("expand") or ""
            if isinstance(expand, list):
                expand = ",".join(expand)
            return (b.get("jql") or "", fields or [], expand, b.get("maxResults"),
                    b.get("nextPageToken"))
        fields = []
        for v in req.args("fields"):
            fields.extend(x for x in v.split(","))
        mx = req.arg("maxResults")
        if mx is not None and mx != "":
            try:
                mx = int(mx)
            except ValueError:
                raise ApiError(400, "invalid_integer", "maxResults", mx)
        else:
            mx = None
        return (req.arg("jql") or "", fields, ",".join(req.args("expand")), mx,
                req.arg("nextPageToken"))

    def match(self, node, issue, tz, now_ms):
        op = node[0]
        if op == "and":
            return self.match(node[1], issue, tz, now_ms) and self.match(node[2], issue, tz,
                                                                         now_ms)
        if op == "or":
            return self.match(node[1], issue, tz, now_ms) or self.match(node[2], issue, tz,
                                                                        now_ms)
        if op == "not":
            return not self.match(node[1], issue, tz, now_ms)
        f = node[1]
        fields = issue.get("fields") or {}
        if f in DATE_FIELDS:
            have = issue.get("_" + {"updated": "updated", "created": "created",
                                    "resolutiondate": "resolved"}[DATE_FIELDS[f]])
            if op == "empty":
                return (have is None) != node[2]
            if op == "in":
                vals = [jql_date_ms(v, f, tz, now_ms) for v in node[2]]
                return (have in vals) != node[3]
            want = jql_date_ms(node[3], f, tz, now_ms)
            if have is None:
                return False
            return {"=": have == want, "!=": have != want, ">": have > want,
                    ">=": have >= want, "<": have < want, "<=": have <= want}.get(node[2], False)
        if f == "project":
            p = fields.get("project") or {}
            cands = {str(p.get("key", "")).upper(), str(p.get("id", "")),
                     str(p.get("name", "")).upper()}
        elif f in ("key", "issuekey", "id"):
            cands = {issue["key"].upper(), str(issue["id"])}
        elif f in ("issuetype", "type"):
            t = fields.get("issuetype") or {}
            cands = {str(t.get("name", "")).upper(), str(t.get("id", ""))}
        elif f == "status":
            s = fields.get("status") or {}
            cands = {str(s.get("name", "")).upper(), str(s.get("id", ""))}
        elif f == "statuscategory":
            c = (fields.get("status") or {}).get("statusCategory") or {}
            cands = {str(c.get("key", "")).upper(), str(c.get("name", "")).upper(),
                     str(c.get("id", ""))}
        else:
            return False
        if op == "empty":
            return (not any(cands)) != node[2]
        if op == "in":
            return bool(cands & {v.upper() for v in node[2]}) != node[3]
        if node[2] in ("=", "!="):
            return (node[3].upper() in cands) == (node[2] == "=")
        if f in ("key", "issuekey", "id") and node[2] in (">", ">=", "<", "<="):
            other = self.find_issue(node[3])
            if not other:
                raise ApiError(400, "jql", "An issue with key '%s' does not exist for field "
                                           "'key'." % node[3])
            a, b = int(issue["id"]), int(other["id"])
            return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[node[2]]
        raise ApiError(400, "jql", "The operator '%s' is not supported by the '%s' field."
                       % (node[2], f))

    @staticmethod
    def sort_issues(issues, order):
        def key_of(field):
            if field in ("updated",):
                return lambda i: i.get("_updated") or 0
            if field == "created":
                return lambda i: i.get("_created") or 0
            if field in ("resolutiondate", "resolved"):
                return lambda i: i.get("_resolved") or 0
            if field == "id":
                return lambda i: int(i["id"])
            # key / issuekey: project key, then number
            return lambda i: (i["key"].rsplit("-", 1)[0], int(i["key"].rsplit("-", 1)[1]))
        out = sorted(issues, key=lambda i: int(i["id"]))
        for field, direction in reversed(order):
            out.sort(key=key_of(field), reverse=(direction == "desc"))
        return out

    def render_issue(self, issue, fields, expand, embed_max, embed_order):
        want = [f.strip() for f in fields if f and f.strip()]
        if not want or set(want) <= {"id"}:
            return {"id": str(issue["id"])}
        all_fields = issue.get("fields") or {}
        names = set()
        if "*all" in want or "*navigable" in want:
            names = set(all_fields)
        for f in want:
            if f.startswith("-"):
                names.discard(f[1:])
            elif not f.startswith("*") and f not in ("id", "key"):
                names.add(f)
        out = {"expand": issue.get("expand", DEFAULT_ISSUE_EXPAND), "id": str(issue["id"]),
               "self": issue.get("self"), "key": issue["key"]}
        if names or not set(want) <= {"id", "key"}:
            out["fields"] = {k: v for k, v in all_fields.items() if k in names}
        exp = {e.strip() for e in (expand or "").split(",")}
        if "names" in exp:
            out["names"] = {k: self.field_by_id.get(k, {}).get("name", k) for k in names}
        if "schema" in exp:
            out["schema"] = {k: self.field_by_id[k].get("schema") for k in names
                             if k in self.field_by_id}
        if "changelog" in exp:
            hs = self.histories.get(str(issue["id"]), [])
            # The Cloud docs: expand=changelog "returns a list of recent updates to an issue,
            # sorted by date, starting from the most recent" -- and the list is truncated
            # (DESIGN.md: ~20-40 entries, `total` has the real count, no paging).  The old
            # samples (agile_sprint_issues_expand_changelog_v2.json) show oldest-first lists;
            # the docs win: newest first unless the knob says otherwise.
            ordered = list(reversed(hs)) if embed_order != "oldest_first" else list(hs)
            kept = ordered[:embed_max]
            out["changelog"] = {"startAt": 0, "maxResults": len(kept), "total": len(hs),
                                "histories": kept}
        return out

    def r_search_jql(self, req):
        jql_text, fields, expand, mx, token = self.search_params(req)
        try:
            jql = Jql(jql_text)
        except JqlError as e:
            raise ApiError(400, "jql", str(e))
        if jql.where is None:
            raise ApiError(400, "jql", "Unbounded JQL queries are not allowed here. Please add "
                                       "a search restriction to your query.")
        tz = parse_tz(self.knob("jql_timezone", "+0000"))
        now_ms = int(utcnow().timestamp() * 1000)
        try:
            with self.lock:
                issues = [i for i in self.issues if self.match(jql.where, i, tz, now_ms)]
        except JqlError as e:
            raise ApiError(400, "jql", str(e))
        # No ORDER BY: the fake uses "created DESC"; clients must always send ORDER BY.
        issues = self.sort_issues(issues, jql.order or [("created", "desc")])
        want = [f.strip() for f in fields if f and f.strip()]
        id_or_key_only = set(want) <= {"id", "key"}
        cap = 5000 if id_or_key_only else 100
        mx = 50 if mx is None else int(mx)
        mx = self.page_cap(min(max(mx, 1), cap))
        fp = fingerprint(jql_text, sorted(want), expand)
        offset = 0
        if token:
            offset = parse_token(token, "jql", fp)
            if offset is None:
                raise ApiError(400, "jql", "The provided nextPageToken is invalid or expired.")
        page = issues[offset:offset + mx]
        embed_max = int(self.knob("changelog_embed_max", 40))
        embed_order = self.knob("changelog_embed_order", "newest_first")
        out = {"issues": [self.render_issue(i, want, expand, embed_max, embed_order)
                          for i in page]}
        if offset + len(page) < len(issues):
            # No nextPageToken at all on the last page (the docs; JRACLOUD-92184).
            out["nextPageToken"] = make_token("jql", offset + len(page), fp)
            out["isLast"] = False
        else:
            out["isLast"] = True
        return Response.json(out)

    # --- issues and changelogs
    def r_issue_get(self, req):
        issue = self.find_issue(req.params["i"])
        if not issue:
            raise ApiError(404, "nf", "Issue does not exist or you do not have permission to "
                                      "see it.")
        fields = []
        for v in req.args("fields"):
            fields.extend(v.split(","))
        return Response.json(self.render_issue(issue, fields or ["*all"],
                                               ",".join(req.args("expand")),
                                               int(self.knob("changelog_embed_max", 40)),
                                               self.knob("changelog_embed_order",
                                                         "newest_first")))

    def r_issue_changelog(self, req):
        issue = self.find_issue(req.params["i"])
        if not issue:
            raise ApiError(404, "nf", "Issue does not exist or you do not have permission to "
                                      "see it.")
        # PageBeanChangelog, oldest first (docs: "sorted by date, starting from the oldest").
        hs = self.histories.get(str(issue["id"]), [])
        return Response.json(self.paged(req, hs, "values", 100, 100))

    def r_bulkfetch(self, req):
        b = req.json()
        if not isinstance(b, dict):
            raise ApiError(400, "bad", "Invalid request payload.")
        ids = b.get("issueIdsOrKeys")
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "bad", "issueIdsOrKeys must not be empty.")
        if len(ids) > 1000:
            raise ApiError(400, "bad", "The number of issueIdsOrKeys must not exceed 1000.")
        field_ids = b.get("fieldIds") or []
        if not isinstance(field_ids, list) or len(field_ids) > 10:
            raise ApiError(400, "bad", "The number of fieldIds must not exceed 10.")
        mx = b.get("maxResults")
        mx = 1000 if mx in (None, "") else int(mx)
        mx = self.page_cap(min(max(mx, 1), 1000))
        seen, resolved = set(), []
        for ref in ids:
            issue = self.find_issue(str(ref))
            if issue and issue["id"] not in seen:       # unknown issues are skipped
                seen.add(issue["id"])
                resolved.append(issue)
        resolved.sort(key=lambda i: int(i["id"]))
        flat = []
        for issue in resolved:
            for h in self.histories.get(str(issue["id"]), []):
                if field_ids:
                    items = [it for it in h.get("items", [])
                             if it.get("fieldId") in field_ids or it.get("field") in field_ids]
                    if not items:
                        continue
                    h = dict(h, items=items)
                flat.append((str(issue["id"]), h))
        # Docs: "sorted by changelog date and issue IDs, starting from the oldest changelog and
        # smallest issue ID".  Default here: issue by issue (smallest id first), each issue's
        # histories oldest first -- so one issue's histories can span pages.  The knob
        # bulkfetch_order=date interleaves issues by history date instead; a client that merges
        # entries by issueId handles both.
        if self.knob("bulkfetch_order", "issue") == "date":
            flat.sort(key=lambda e: (jira_time_ms(e[1].get("created")) or 0, int(e[0])))
        fp = fingerprint(sorted(str(i["id"]) for i in resolved), field_ids)
        offset = 0
        token = b.get("nextPageToken")
        if token:
            offset = parse_token(token, "bulk", fp)
            if offset is None:
                raise ApiError(400, "bad", "The provided nextPageToken is invalid.")
        page = flat[offset:offset + mx]
        logs = []
        for issue_id, h in page:
            if logs and logs[-1]["issueId"] == issue_id:
                logs[-1]["changeHistories"].append(h)
            else:
                logs.append({"issueId": issue_id, "changeHistories": [h]})
        out = {"issueChangeLogs": logs}
        if offset + len(page) < len(flat):
            out["nextPageToken"] = make_token("bulk", offset + len(page), fp)
        return Response.json(out)

    # --- misc
    def r_myself(self, req):
        return Response.json({
            "self": req.base_url + "/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5",
            "accountId": "5b10ac8d82e05b22cc7d4ef5", "accountType": "atlassian",
            "emailAddress": "etl-test@example.com", "displayName": "ETL Test",
            "active": True, "timeZone": "Etc/UTC", "locale": "en_US"})

    def r_server_info(self, req):
        now = utcnow()
        return Response.json({
            "baseUrl": req.base_url, "displayUrl": req.base_url, "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud", "buildNumber": 100289,
            "buildDate": "2025-01-01T00:00:00.000+0000",
            "serverTime": now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "scmInfo": "0000000000000000000000000000000000000000", "serverTitle": "Jira"})

    def r_dev_status(self, req):
        issue_id = req.arg("issueId")
        if not issue_id:
            raise ApiError(400, "bad", "issueId is required.")
        if not self.by_id.get(issue_id):
            raise ApiError(404, "nf", "Issue does not exist or you do not have permission to "
                                      "see it.")
        app = req.arg("applicationType") or "GitHub"
        data_type = (req.arg("dataType") or "pullrequest").lower()
        # No real sample of dataType=pullrequest exists (api-samples/jira/MANIFEST.md): the
        # envelope {"errors": [], "detail": [{..., "_instance": {...}}]} follows the
        # dataType=repository samples; the pull request objects are plausible, not verified.
        doc = read_json(os.path.join(self.data_dir, "devstatus", issue_id + ".json"))
        if doc is None:
            doc = {"errors": [], "detail": [{
                "pullRequests": [], "branches": [], "repositories": [],
                "_instance": {"name": app, "baseUrl": "https://github.com", "type": app,
                              "id": app.lower() + "-instance", "typeName": app,
                              "singleInstance": True}}]}
        keep = {"pullrequest": ("pullRequests", "branches", "repositories"),
                "branch": ("branches", "pullRequests", "repositories"),
                "repository": ("repositories",)}.get(data_type, ("pullRequests", "branches",
                                                                 "repositories"))
        detail = []
        for d in doc.get("detail", []):
            inst = d.get("_instance") or {}
            if inst.get("type") and app and inst.get("type", "").lower() != app.lower():
                continue
            detail.append({k: v for k, v in d.items() if k in keep or k == "_instance"})
        return Response.json({"errors": doc.get("errors", []), "detail": detail})


def main():
    p = common_args("Fake Jira Cloud REST v3 server")
    p.add_argument("--credentials", help="accept only this EMAIL:TOKEN as Basic auth")
    args = p.parse_args()
    serve(FakeJira(args), args)


if __name__ == "__main__":
    main()
