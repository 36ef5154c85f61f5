#!/usr/bin/env python3
"""Fake GitHub GraphQL v4 server for the etlkit tests (Python 3 standard library only).

    python3 fake_github.py --port N --data DIR [--log FILE] [--port-file F] [--knobs JSON]
                           [--token TOKEN]

POST /graphql with {"query": "...", "variables": {...}, "operationName": ...}.

The query is parsed (a small GraphQL parser: operations, variables with defaults, aliases,
arguments, inline fragments, named fragments, __typename) but there is no schema: a field is
looked up by name in the stored JSON, a missing one is null.  Only the selected fields are
returned, like GitHub.  Root fields:

    organization(login:) { repositories(first:, after:, orderBy:) { ... } }
    repositoryOwner(login:) { login repositories(...) { ... } }   the organisation or user
                            (an unknown login: null, no error)
    repository(owner:, name:) { pullRequests(first:, after:, orderBy: {field: UPDATED_AT,
                                direction: DESC}, states: [...]) { ... } }
    node(id:) { ... on PullRequest { commits|reviews|comments(first:, after:) { ... } } }
    nodes(ids:), viewer, rateLimit { cost remaining resetAt limit used nodeCount }

Variable names the tests and etl-extract use: login, owner, name, first, after, id (any name
works: arguments are resolved from `variables` by the names the query declares).

Every connection is paged for real: `first`/`last` are required when nodes/edges are selected
and must be 1..100 (GitHub's own error messages otherwise); cursors are opaque; totalCount and
pageInfo {hasNextPage endCursor hasPreviousPage startCursor} are computed.  Nested connections
(commits, reviews, comments of each pull request) are cut to their own `first`, so a client has
to page them through node(id:).

Rate limits: every response has x-ratelimit-{limit,remaining,reset,used,resource} headers;
`rateLimit` reports the cost of the query (GitHub's formula: connection requests / 100, at
least 1).  Knobs (besides the generic ones of fakelib):
    rate_points: {"limit": 5000, "remaining": R, "reset_in": S}   point budget; when spent,
                 queries get HTTP 200 + errors[type=RATE_LIMITED] until the reset
    rate_limit_200: {"after", "count", "endpoint"}   HTTP 200 {"data":null,"errors":[RATE_LIMITED]}
    secondary_403: {"after", "count", "retry_after": S|null, "status": 403|429}
    errors_5xx: {"after", "count", "status": 502|504}
    not_found: {"after", "count", "endpoint", "path": [...]}   the answer as usual plus
                 errors[{type: NOT_FOUND, path}]; a one-element path also nulls that root field
                 (default path: the first root field besides rateLimit)
    stuck_cursor: {"after", "count", "endpoint"}   every connection's pageInfo.endCursor under
                 the root fields is the request's `after` variable: paging does not advance
    token: "..."   when set, only `Authorization: bearer <token>` is accepted

repositoryOwner.repositories honours ownerAffiliations: without COLLABORATOR (or
ORGANIZATION_MEMBER) only the repositories the login owns are listed; GitHub's default is
[OWNER, COLLABORATOR], so a user's listing (repos.json key) may hold others' repositories.
"""

import datetime
import json
import os
import re
import sys
import uuid

sys.dont_write_bytecode = True       # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakelib import (ApiError, FakeServer, Response, Window, common_args, iso_utc,  # noqa: E402
                     read_json, serve, utcnow)
import base64  # noqa: E402

DOCS = "https://docs.github.com/graphql"
SECONDARY_MSG = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
                 "try again. If you reach out to GitHub Support for help, please include the "
                 "request ID %s.")
SECONDARY_DOC = ("https://docs.github.com/free-pro-team@latest/rest/overview/"
                 "rate-limits-for-the-rest-api#about-secondary-rate-limits")


class GqlError(Exception):
    def __init__(self, message, line=None, col=None, **extra):
        super().__init__(message)
        self.message = message
        self.line, self.col = line, col
        self.extra = extra

    def as_json(self):
        e = {"message": self.message}
        if self.line:
            e["locations"] = [{"line": self.line, "column": self.col}]
        e.update(self.extra)
        return e


class GqlValidationError(GqlError):
    """A query that does not validate: the response has errors and no data at all."""


# ------------------------------------------------------------------------------ lexer/parser
TOKEN_RE = re.compile(r'''
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<spread>\.\.\.)
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>[!$&()\:=@\[\]{}|])
''', re.X | re.S)


def lex(src):
    toks, pos, line, lstart = [], 0, 1, 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise GqlError("Parse error on \"%s\" at [%d, %d]" % (src[pos], line, pos - lstart + 1),
                           line, pos - lstart + 1)
        kind, text = m.lastgroup, m.group()
        if kind != "ws":
            toks.append((kind, text, line, pos - lstart + 1))
        nl = text.count("\n")
        if nl:
            line += nl
            lstart = pos + text.rfind("\n") + 1
        pos = m.end()
    toks.append(("eof", "", line, pos - lstart + 1))
    return toks


class Parser:
    def __init__(self, src):
        self.t = lex(src)
        self.i = 0

    def peek(self, k=0):
        return self.t[self.i + k]

    def err(self, tok=None):
        tok = tok or self.peek()
        what = tok[1] if tok[0] != "eof" else "end of file"
        return GqlError('Parse error on "%s" (%s) at [%d, %d]'
                        % (what, tok[0].upper(), tok[2], tok[3]), tok[2], tok[3])

    def expect(self, kind, text=None):
        tok = self.peek()
        if tok[0] != kind or (text is not None and tok[1] != text):
            raise self.err(tok)
        self.i += 1
        return tok

    def at(self, kind, text=None):
        tok = self.peek()
        return tok[0] == kind and (text is None or tok[1] == text)

    def document(self):
        ops, frags = [], {}
        while not self.at("eof"):
            if self.at("punct", "{"):
                ops.append({"type": "query", "name": None, "vars": {},
                            "sel": self.selection_set()})
            elif self.at("name", "fragment"):
                self.i += 1
                name = self.expect("name")[1]
                if not self.at("name", "on"):
                    raise self.err()
                self.i += 1
                tcond = self.expect("name")[1]
                self.directives()
                frags[name] = {"type": tcond, "sel": self.selection_set()}
            elif self.at("name") and self.peek()[1] in ("query", "mutation", "subscription"):
                otype = self.expect("name")[1]
                name = self.expect("name")[1] if self.at("name") else None
                vars_ = {}
                if self.at("punct", "("):
                    self.i += 1
                    while not self.at("punct", ")"):
                        self.expect("punct", "$")
                        vname = self.expect("name")[1]
                        self.expect("punct", ":")
                        self.type_ref()
                        default = None
                        if self.at("punct", "="):
                            self.i += 1
                            default = self.value()
                        self.directives()
                        vars_[vname] = default
                    self.i += 1
                self.directives()
                ops.append({"type": otype, "name": name, "vars": vars_,
                            "sel": self.selection_set()})
            else:
                raise self.err()
        return ops, frags

    def type_ref(self):
        if self.at("punct", "["):
            self.i += 1
            self.type_ref()
            self.expect("punct", "]")
        else:
            self.expect("name")
        if self.at("punct", "!"):
            self.i += 1

    def directives(self):
        while self.at("punct", "@"):
            self.i += 1
            self.expect("name")
            if self.at("punct", "("):
                self.arguments()

    def selection_set(self):
        self.expect("punct", "{")
        sel = []
        while not self.at("punct", "}"):
            if self.at("eof"):
                raise self.err()
            sel.append(self.selection())
        self.i += 1
        return sel

    def selection(self):
        if self.at("spread"):
            self.i += 1
            if self.at("name", "on"):
                self.i += 1
                tcond = self.expect("name")[1]
                self.directives()
                return {"kind": "inline", "type": tcond, "sel": self.selection_set()}
            if self.at("punct", "{") or self.at("punct", "@"):
                self.directives()
                return {"kind": "inline", "type": None, "sel": self.selection_set()}
            name = self.expect("name")[1]
            self.directives()
            return {"kind": "spread", "name": name}
        tok = self.expect("name")
        alias, name = None, tok[1]
        if self.at("punct", ":"):
            self.i += 1
            alias, name = name, self.expect("name")[1]
        args = self.arguments() if self.at("punct", "(") else {}
        self.directives()
        sel = self.selection_set() if self.at("punct", "{") else None
        return {"kind": "field", "alias": alias, "name": name, "args": args, "sel": sel,
                "line": tok[2], "col": tok[3]}

    def arguments(self):
        self.expect("punct", "(")
        args = {}
        while not self.at("punct", ")"):
            name = self.expect("name")[1]
            self.expect("punct", ":")
            args[name] = self.value()
        self.i += 1
        return args

    def value(self):
        tok = self.peek()
        kind, text = tok[0], tok[1]
        if kind == "punct" and text == "$":
            self.i += 1
            return ("var", self.expect("name")[1])
        self.i += 1
        if kind == "num":
            return ("lit", float(text) if re.search(r"[.eE]", text) else int(text))
        if kind == "str":
            return ("lit", json.loads(text))
        if kind == "block":
            return ("lit", text[3:-3])
        if kind == "name":
            return ("lit", {"true": True, "false": False, "null": None}.get(text, text)) \
                if text in ("true", "false", "null") else ("enum", text)
        if kind == "punct" and text == "[":
            items = []
            while not self.at("punct", "]"):
                items.append(self.value())
            self.i += 1
            return ("list", items)
        if kind == "punct" and text == "{":
            fields = {}
            while not self.at("punct", "}"):
                n = self.expect("name")[1]
                self.expect("punct", ":")
                fields[n] = self.value()
            self.i += 1
            return ("obj", fields)
        self.i -= 1
        raise self.err()


def resolve_value(v, variables):
    kind = v[0]
    if kind == "var":
        return variables.get(v[1])
    if kind in ("lit", "enum"):
        return v[1]
    if kind == "list":
        return [resolve_value(x, variables) for x in v[1]]
    return {k: resolve_value(x, variables) for k, x in v[1].items()}


# ------------------------------------------------------------------------------ the server
CONNECTION_TYPES = {"repositories": "Repository", "pullRequests": "PullRequest",
                    "commits": "PullRequestCommit", "reviews": "PullRequestReview",
                    "comments": "IssueComment", "labels": "Label", "files": "PullRequestChangedFile",
                    "reviewRequests": "ReviewRequest"}
ORDER_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "PUSHED_AT": "pushedAt",
                "NAME": "name", "STARGAZERS": "stargazerCount"}


def cursor_for(conn, idx):
    return base64.b64encode(("cursor:v2:%s:%d" % (conn, idx)).encode()).decode()


def cursor_index(conn, cur):
    try:
        raw = base64.b64decode(cur.encode(), validate=True).decode()
        prefix, name, idx = raw.rsplit(":", 2)
        if prefix != "cursor:v2" or name != conn:
            return None
        return int(idx)
    except Exception:  # noqa: BLE001
        return None


def typed(obj, typename):
    if isinstance(obj, dict) and "__typename" not in obj:
        obj["__typename"] = typename
    return obj


class Exec:
    """Executes one operation against the dataset."""

    def __init__(self, server, op, frags, variables):
        self.s = server
        self.frags = frags
        self.vars = dict((k, resolve_value(v, {})) for k, v in op["vars"].items()
                         if v is not None)
        self.vars.update(variables or {})
        self.errors = []
        self.op = op

    def arg(self, field, name, default=None):
        v = field["args"].get(name)
        return default if v is None else resolve_value(v, self.vars)

    # -- selection machinery
    def collect(self, sel, typename):
        """Flatten fragments: the list of fields that apply to an object of typename."""
        out = []
        for s in sel:
            if s["kind"] == "field":
                out.append(s)
            elif s["kind"] == "inline":
                if s["type"] is None or s["type"] == typename or typename is None:
                    out.extend(self.collect(s["sel"], typename))
            else:
                fr = self.frags.get(s["name"])
                if fr is None:
                    raise GqlError("Fragment %s was used, but not defined" % s["name"])
                if fr["type"] == typename or typename is None:
                    out.extend(self.collect(fr["sel"], typename))
        return out

    def select(self, obj, sel, path):
        if obj is None:
            return None
        tname = obj.get("__typename") if isinstance(obj, dict) else None
        out = {}
        for f in self.collect(sel, tname):
            key = f["alias"] or f["name"]
            if f["name"] == "__typename":
                out[key] = tname
                continue
            val = self.field_value(obj, f, path + [key])
            if key in out and isinstance(out[key], dict) and isinstance(val, dict):
                out[key].update(val)
            else:
                out[key] = val
        return out

    def field_value(self, obj, f, path):
        v = obj.get(f["name"]) if isinstance(obj, dict) else None
        if f["sel"] is None:
            return v
        if isinstance(v, dict) and isinstance(v.get("nodes"), list):
            return self.connection(f, v, path)
        if isinstance(v, list):
            return [self.select(x, f["sel"], path + [i]) for i, x in enumerate(v)]
        if isinstance(v, dict):
            return self.select(v, f["sel"], path)
        return None

    def connection(self, f, stored, path):
        name = f["name"]
        nodes = list(stored["nodes"])
        tname = CONNECTION_TYPES.get(name, "Node")
        for n in nodes:
            typed(n, tname)
        states = self.arg(f, "states")
        if states:
            nodes = [n for n in nodes if n.get("state") in states]
        order = self.arg(f, "orderBy")
        if isinstance(order, dict) and order.get("field") in ORDER_FIELDS:
            k = ORDER_FIELDS[order["field"]]
            nodes.sort(key=lambda n: (n.get(k) is None, n.get(k) or "", n.get("number", 0)),
                       reverse=(order.get("direction") == "DESC"))
        affil = self.arg(f, "ownerAffiliations")
        owner = stored.get("_owner")
        if owner and isinstance(affil, list) and \
                not {"COLLABORATOR", "ORGANIZATION_MEMBER"} & set(affil):
            nodes = [n for n in nodes
                     if str((n.get("owner") or {}).get("login", "")).lower() == owner.lower()]
            states = True          # totalCount counts what is left
        total = len(nodes) if states else stored.get("totalCount", len(nodes))
        first, last = self.arg(f, "first"), self.arg(f, "last")
        after, before = self.arg(f, "after"), self.arg(f, "before")
        wants_items = any(x["name"] in ("nodes", "edges") for x in self.collect(f["sel"], None))
        loc = {"line": f["line"], "col": f["col"], "path": path}
        for argname, n in (("first", first), ("last", last)):
            if n is not None and (not isinstance(n, int) or n < 0 or n > 100):
                raise GqlError("Requesting %s records on the `%s` connection exceeds the `%s` "
                               "limit of 100 records." % (n, name, argname),
                               type="EXCESSIVE_PAGINATION", **loc)
        if wants_items and first is None and last is None:
            raise GqlError("You must provide a `first` or `last` value to properly paginate "
                           "the `%s` connection." % name, type="MISSING_PAGINATION_BOUNDARIES",
                           **loc)
        start, end = 0, len(nodes)
        if after:
            idx = cursor_index(name, after)
            if idx is None:
                raise GqlError("`%s` does not appear to be a valid cursor." % after, **loc)
            start = idx + 1
        if before:
            idx = cursor_index(name, before)
            if idx is None:
                raise GqlError("`%s` does not appear to be a valid cursor." % before, **loc)
            end = min(end, idx)
        if first is not None:
            end = min(end, start + first)
        if last is not None:
            start = max(start, end - last)
        page = nodes[start:end] if start < end else []
        idxs = list(range(start, start + len(page)))
        conn = {
            "totalCount": total,
            "pageInfo": {"hasNextPage": end < len(nodes), "hasPreviousPage": start > 0,
                         "startCursor": cursor_for(name, idxs[0]) if idxs else None,
                         "endCursor": cursor_for(name, idxs[-1]) if idxs else None},
            "nodes": page,
            "edges": [{"cursor": cursor_for(name, i), "node": n} for i, n in zip(idxs, page)],
        }
        return self.select(conn, f["sel"], path)

    # -- root fields
    def run(self):
        data = {}
        for f in self.collect(self.op["sel"], "Query"):
            key = f["alias"] or f["name"]
            try:
                data[key] = self.root_field(f, key)
            except GqlValidationError:
                raise
            except GqlError as e:
                if e.line is None:
                    e.line, e.col = f["line"], f["col"]
                e.extra.setdefault("path", [key])
                self.errors.append(e.as_json())
                data[key] = None
        return data

    def not_found(self, f, key, message):
        self.errors.append({"type": "NOT_FOUND", "path": [key],
                            "locations": [{"line": f["line"], "column": f["col"]}],
                            "message": message})
        return None

    def root_field(self, f, key):
        s = self.s
        name = f["name"]
        if name == "__typename":
            return "Query"
        if name == "rateLimit":
            return self.select(s.rate_limit_obj(), f["sel"] or [], [key]) if f["sel"] else None
        if name == "viewer":
            return self.select(typed({"login": "etl-test-bot", "id": "U_kgDOetltest",
                                      "name": "ETL Test Bot"}, "User"), f["sel"] or [], [key])
        if name in ("organization", "repositoryOwner"):
            login = self.arg(f, "login")
            repos = s.repos_by_org.get(str(login).lower()) if login is not None else None
            if repos is None and name == "repositoryOwner":
                return None        # GitHub: a nullable field, no error
            if repos is None:
                what = "an Organization" if name == "organization" else "a RepositoryOwner"
                return self.not_found(f, key, "Could not resolve to %s with the login of "
                                      "'%s'." % (what, login))
            return self.select(s.owner_obj(login, repos), f["sel"] or [], [key])
        if name == "repository":
            owner, rname = self.arg(f, "owner"), self.arg(f, "name")
            repo = s.repo_obj(owner, rname)
            if repo is None:
                return self.not_found(f, key, "Could not resolve to a Repository with the name "
                                      "'%s/%s'." % (owner, rname))
            return self.select(repo, f["sel"] or [], [key])
        if name == "node":
            nid = self.arg(f, "id")
            obj = s.node_obj(nid)
            if obj is None:
                return self.not_found(f, key, "Could not resolve to a node with the global id "
                                      "of '%s'" % nid)
            return self.select(obj, f["sel"] or [], [key])
        if name == "nodes":
            out = []
            for nid in self.arg(f, "ids") or []:
                obj = s.node_obj(nid)
                if obj is None:
                    self.not_found(f, key, "Could not resolve to a node with the global id of "
                                   "'%s'" % nid)
                out.append(self.select(obj, f["sel"] or [], [key]) if obj else None)
            return out
        raise GqlValidationError("Field '%s' doesn't exist on type 'Query'" % name, f["line"],
                                 f["col"],
                                 path=["query", name],
                                 extensions={"code": "undefinedField", "typeName": "Query",
                                             "fieldName": name})

    # -- static analysis: cost and the operation label used in stats
    def cost(self):
        requests, nodes = 0, 0

        def walk(sel, mult, tname):
            nonlocal requests, nodes
            for f in self.collect(sel, None):
                n = self.arg(f, "first") or self.arg(f, "last")
                if isinstance(n, int) and f["sel"] is not None:
                    requests += mult
                    nodes += mult * n
                    walk(f["sel"], mult * n, None)
                elif f["sel"] is not None:
                    walk(f["sel"], mult, None)
        walk(self.op["sel"], 1, "Query")
        return max(1, int(round(requests / 100.0))), nodes


def operation_label(op, frags):
    """'repository.pullRequests', 'node.commits', 'organization.repositories', 'rateLimit'."""
    ex = Exec.__new__(Exec)
    ex.frags, ex.vars = frags, {}
    labels = []
    for f in ex.collect(op["sel"], None):
        if f["name"] in ("rateLimit", "__typename") and len(op["sel"]) > 1:
            continue
        conns = []

        def walk(sel, depth):
            for g in ex.collect(sel, None):
                if "first" in g["args"] or "last" in g["args"]:
                    conns.append(g["name"])
                elif g["sel"] is not None and depth < 3:
                    walk(g["sel"], depth + 1)
        if f["sel"]:
            walk(f["sel"], 0)
        labels.append(f["name"] + ("." + "+".join(conns[:3]) if conns else ""))
    return ",".join(labels) or "empty"


class FakeGitHub(FakeServer):
    name = "fake-github"
    fault_knobs = ("secondary_403", "rate_limit_200", "errors_5xx", "html_error",
                   "drop_connection")
    # windowed knobs that alter the answer rather than replace it (see route)
    answer_knobs = ("not_found", "stuck_cursor")

    def __init__(self, args):
        self.points = {"limit": 5000, "used": 0, "reset_at": None}
        super().__init__(args)
        if args.token:
            self.set_knob("token", args.token)
        self.reset_points()

    def reset_points(self, limit=5000, remaining=None, reset_in=3600):
        self.points = {"limit": int(limit),
                       "used": int(limit) - int(remaining if remaining is not None else limit),
                       "reset_at": utcnow() + datetime.timedelta(seconds=float(reset_in))}

    def on_reset(self):
        self.reset_points()

    def set_knob(self, name, value):
        super().set_knob(name, value)
        if name in self.answer_knobs and isinstance(value, dict):
            with self.lock:
                self.windows[name] = Window(value)
        if name == "rate_points":
            v = value or {}
            self.reset_points(v.get("limit", 5000), v.get("remaining"), v.get("reset_in", 3600))

    # ----- dataset -------------------------------------------------------------------------
    def load_data(self):
        d = self.data_dir
        if not d or not os.path.isdir(d):
            raise SystemExit("fake_github: --data DIR is required (got %r)" % d)
        doc = read_json(os.path.join(d, "repos.json"), {})
        by_org = {}
        if isinstance(doc, list):
            for r in doc:
                by_org.setdefault(r["owner"]["login"].lower(), []).append(r)
        else:
            for org, repos in doc.items():
                by_org[org.lower()] = list(repos)
        prs_by_repo, nodes = {}, {}
        for org, repos in by_org.items():
            for r in repos:
                typed(r, "Repository")
                typed(r.get("owner"), "Organization")
                owner = r.get("owner", {}).get("login", org)
                prs = read_json(os.path.join(d, "prs", owner, r["name"] + ".json"), [])
                for pr in prs:
                    self.annotate_pr(pr)
                    nodes[pr["id"]] = pr
                prs_by_repo[(owner.lower(), r["name"].lower())] = prs
                nodes[r["id"]] = r
        with self.lock:
            self.repos_by_org = by_org
            self.prs_by_repo = prs_by_repo
            self.nodes = nodes

    @staticmethod
    def annotate_pr(pr):
        typed(pr, "PullRequest")
        for k in ("author", "mergedBy"):
            typed(pr.get(k), "User")
        for key in ("commits", "reviews", "comments", "labels"):
            conn = pr.get(key)
            if isinstance(conn, dict):
                for n in conn.get("nodes") or []:
                    typed(n, CONNECTION_TYPES[key])
                    typed(n.get("author"), "User")
                    if key == "commits":
                        typed(n.get("commit"), "Commit")

    @staticmethod
    def owner_obj(login, repos):
        """The organisation or user @login: its stored spelling and type come from its
        repositories' owner (repos.json lists users' repositories the same way)."""
        owner = (repos[0].get("owner") if repos else None) or {}
        tname = owner.get("__typename") or "Organization"
        login = owner.get("login") or login
        prefix = "O_kgDO" if tname == "Organization" else "U_kgDO"
        return typed({"login": login, "name": login, "id": prefix + str(login),
                      "repositories": {"totalCount": len(repos), "nodes": repos,
                                       "_owner": login}}, tname)

    def repo_obj(self, owner, name):
        if owner is None or name is None:
            return None
        for r in self.repos_by_org.get(str(owner).lower(), []):
            if r["name"].lower() == str(name).lower():
                prs = self.prs_by_repo.get((str(owner).lower(), r["name"].lower()), [])
                obj = dict(r)
                obj["pullRequests"] = {"totalCount": len(prs), "nodes": prs}
                return obj
        return None

    def node_obj(self, nid):
        obj = self.nodes.get(nid)
        if obj is not None and obj.get("__typename") == "Repository":
            owner = obj.get("owner", {}).get("login")
            return self.repo_obj(owner, obj["name"])
        return obj

    def rate_limit_obj(self):
        p = self.points
        return {"__typename": "RateLimit", "limit": p["limit"], "cost": p.get("cost", 1),
                "remaining": max(0, p["limit"] - p["used"]), "used": p["used"],
                "resetAt": iso_utc(p["reset_at"]), "nodeCount": p.get("nodeCount", 0)}

    # ----- pipeline hooks ------------------------------------------------------------------
    def classify(self, req):
        req.endpoint = "%s %s" % (req.method, req.path)
        req.parsed = None
        if req.path.rstrip("/") != "/graphql" or req.method != "POST":
            return
        try:
            body = req.json()
            q = body.get("query") if isinstance(body, dict) else None
            if isinstance(q, str):
                ops, frags = Parser(q).document()
                op = self.pick_op(ops, body.get("operationName"))
                req.parsed = (op, frags, body.get("variables") or {})
                req.operation = operation_label(op, frags) if op else ""
        except (ApiError, GqlError):
            req.operation = "invalid"

    @staticmethod
    def pick_op(ops, name):
        if name:
            for op in ops:
                if op["name"] == name:
                    return op
            return None
        return ops[0] if len(ops) == 1 else None

    def check_auth(self, req):
        h = (req.auth_header() or "").strip()
        parts = h.split(None, 1)
        if len(parts) == 2 and parts[0].lower() in ("bearer", "token") and parts[1]:
            tok = self.knob("token")
            if not tok or parts[1].strip() == tok:
                return None
            return self.gh_response({"message": "Bad credentials", "documentation_url": DOCS},
                                    401)
        return self.gh_response({
            "message": "This endpoint requires you to be authenticated.",
            "documentation_url": DOCS + "/guides/forming-calls-with-graphql"
                                        "#authenticating-with-graphql"}, 401)

    def rate_headers(self, resp, remaining=None):
        p = self.points
        rem = max(0, p["limit"] - p["used"]) if remaining is None else remaining
        resp.add_header("x-ratelimit-limit", p["limit"])
        resp.add_header("x-ratelimit-remaining", rem)
        resp.add_header("x-ratelimit-reset", int(p["reset_at"].timestamp()))
        resp.add_header("x-ratelimit-used", p["used"])
        resp.add_header("x-ratelimit-resource", "graphql")
        return resp

    def gh_response(self, obj, status=200):
        r = Response.json(obj, status)
        r.headers = [("Content-Type", "application/json; charset=utf-8")]
        r.add_header("x-github-request-id", uuid.uuid4().hex[:8].upper() + ":" +
                     uuid.uuid4().hex[:6].upper())
        r.add_header("Server", "GitHub.com")
        return r

    def fault_response(self, name, spec, req):
        if name == "rate_limit_200":
            r = self.gh_response({"data": None, "errors": [
                {"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]})
            return self.rate_headers(r, remaining=0)
        if name == "secondary_403":
            r = self.gh_response({"message": SECONDARY_MSG % uuid.uuid4().hex[:12].upper(),
                                  "documentation_url": SECONDARY_DOC},
                                 int(spec.get("status", 403)))
            wait = spec.get("retry_after", 1)
            if wait is not None:
                r.add_header("retry-after", int(wait))
            return self.rate_headers(r)
        status = int(spec.get("status", 502))
        rid = uuid.uuid4().hex[:8].upper()
        return self.gh_response({"data": None, "errors": [{
            "message": "Something went wrong while executing your query. This may be the result "
                       "of a timeout, or it could be a GitHub bug. Please include `%s` when "
                       "reporting this issue." % rid}]}, status)

    def rate_limit_response(self, req):
        return self.fault_response("secondary_403", {"status": 429}, req)

    def error_response(self, req, err):
        if err.code == "invalid_json":
            return self.gh_response({"message": "Problems parsing JSON",
                                     "documentation_url": DOCS}, 400)
        return self.gh_response({"message": err.details[0] if err.details else err.code,
                                 "documentation_url": DOCS}, err.status)

    # ----- the endpoint --------------------------------------------------------------------
    def route(self, req, extra):
        if req.path.rstrip("/") != "/graphql":
            return self.gh_response({"message": "Not Found", "documentation_url": DOCS}, 404)
        if req.method != "POST":
            return self.gh_response({"message": "Not Found", "documentation_url": DOCS}, 404)
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self.gh_response({"message": "A query attribute must be specified and must "
                                                "be a string.", "documentation_url": DOCS}, 400)
        variables = body.get("variables") or {}
        if isinstance(variables, str):
            try:
                variables = json.loads(variables)
            except json.JSONDecodeError:
                return self.gh_response({"message": "Problems parsing JSON",
                                         "documentation_url": DOCS}, 400)
        extra["variables"] = variables
        try:
            ops, frags = Parser(body["query"]).document()
        except GqlError as e:
            return self.rate_headers(self.gh_response({"errors": [e.as_json()]}))
        op = self.pick_op(ops, body.get("operationName"))
        if op is None:
            return self.gh_response({"errors": [{"message": "An operation name is required"}]})
        if op["type"] != "query":
            return self.gh_response({"errors": [{"message": "The fake GitHub serves queries "
                                                            "only, not %ss" % op["type"]}]})
        with self.lock:
            ex = Exec(self, op, frags, variables)
            try:
                cost, node_count = ex.cost()
            except GqlError as e:
                return self.gh_response({"errors": [e.as_json()]})
            now = utcnow()
            p = self.points
            if now >= p["reset_at"]:
                p["used"] = 0
                p["reset_at"] = now + datetime.timedelta(hours=1)
            if p["limit"] - p["used"] < cost:
                r = self.gh_response({"data": None, "errors": [{
                    "type": "RATE_LIMITED",
                    "message": "API rate limit exceeded for user ID 1."}]})
                return self.rate_headers(r, remaining=0)
            p["used"] += cost
            p["cost"], p["nodeCount"] = cost, node_count
            extra["cost"] = cost
            try:
                data = ex.run()
            except GqlError as e:
                return self.rate_headers(self.gh_response({"errors": [e.as_json()]}))
        out = {"data": data}
        if ex.errors:
            out["errors"] = ex.errors
        ticks = getattr(req, "_ticks", {})
        if ticks.get("stuck_cursor"):
            self.stick_cursors(data, variables.get("after"))
        if ticks.get("not_found"):
            self.add_not_found(out, self.knob("not_found") or {})
        return self.rate_headers(self.gh_response(out))

    @staticmethod
    def stick_cursors(data, after):
        for v in (data or {}).values():
            for conn in (v.values() if isinstance(v, dict) else []):
                if isinstance(conn, dict) and isinstance(conn.get("pageInfo"), dict):
                    conn["pageInfo"]["endCursor"] = after

    @staticmethod
    def add_not_found(out, spec):
        data = out.get("data") or {}
        path = spec.get("path") or [next((k for k in data if k != "rateLimit"), "node")]
        if len(path) == 1 and path[0] in data:
            data[path[0]] = None
        out.setdefault("errors", []).append({
            "type": "NOT_FOUND", "path": path, "locations": [{"line": 1, "column": 1}],
            "message": "Could not resolve to a node at %s" % ".".join(map(str, path))})


def main():
    p = common_args("Fake GitHub GraphQL v4 server")
    p.add_argument("--token", help="accept only this bearer token")
    args = p.parse_args()
    serve(FakeGitHub(args), args)


if __name__ == "__main__":
    main()
