#!/usr/bin/env python3
"""Deterministic generator of Jira (and matching GitHub) datasets for the etlkit fakes.

    python3 gen_jira_dataset.py --projects 3 --issues 300 --out DIR [--seed 42]
                                [--github-out DIR] [--tz +0000]
                                [--prs-per-repo N] [--big-prs N]

Writes DIR/projects.json, fields.json, createmeta/KEY.json, statuses/KEY.json,
issues/KEY-N.json (one full issue per file, complete changelog oldest first) and
devstatus/ISSUEID.json; with --github-out also repos.json and prs/OWNER/REPO.json whose pull
requests are the ones the Jira dev-status files link to.  The format is in tests/fakes/README.md.

Shapes follow /work/shared/api-samples (search_v3_cloud_adf_customfields.json for issues,
issue_changelog_v3_values_items.json for histories, project_statuses_v2_cloud.json for
statuses, field_list_handtrimmed.json for fields, graphql_repository_pullRequests_nested_*.json
for pull requests).  Same seed and arguments -> byte-identical output.

Edge cases always present (when the dataset has >= 1 project and >= 6 issues):
  * the first Story of the first project has > 100 changelog histories (130);
  * the first Bug of the first project goes back to Backlog, is finished, then Reopened and
    finished again;
  * ADF descriptions with accents, CJK, 4-byte emoji and one text containing U+0000;
  * custom fields: story points (number), option, multi-user, string, team, date, sprint,
    rank, multi-checkbox and one unknown custom type;
  * about a quarter of the issues link pull requests (`development` field + devstatus file),
    and the first repository has one pull request with 250 commits, 130 reviews and 120
    comments (nested paging).

--prs-per-repo N and --big-prs N (default 0, for `make bench`) add unlinked pull requests at
the end, from the same random stream: without them the output is unchanged.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import shutil

SITE = "https://etlkit-test.atlassian.net"
ORG = "etlkit-test"
BASE_TIME = datetime.datetime(2024, 1, 8, 9, 0, 0, tzinfo=datetime.timezone.utc)
PROJECT_NAMES = [("ALPHA", "Alpha Platform"), ("BETA", "Beta Mobile"),
                 ("GAMMA", "Gamma Data Pipeline"), ("DELTA", "Delta Billing"),
                 ("EPS", "Epsilon Infra"), ("ZETA", "Zeta Search"), ("ETA", "Eta Identity"),
                 ("THETA", "Theta Reporting")]

CAT = {
    "new": {"self": SITE + "/rest/api/3/statuscategory/2", "id": 2, "key": "new",
            "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"self": SITE + "/rest/api/3/statuscategory/4", "id": 4,
                      "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"self": SITE + "/rest/api/3/statuscategory/3", "id": 3, "key": "done",
             "colorName": "green", "name": "Done"},
}
STATUSES = {
    "Backlog": ("10100", "new", "", SITE + "/"),
    "Selected for Development": ("10101", "new", "", SITE + "/"),
    "In Progress": ("3", "indeterminate",
                    "This issue is being actively worked on at the moment by the assignee.",
                    SITE + "/images/icons/statuses/inprogress.png"),
    "In Review": ("10102", "indeterminate", "", SITE + "/"),
    "Done": ("10001", "done", "", SITE + "/images/icons/statuses/closed.png"),
    "Won't Do": ("10103", "done", "", SITE + "/images/icons/statuses/closed.png"),
    "Reopened": ("4", "new", "This issue was once resolved, but the resolution was deemed "
                 "incorrect. From here issues are either marked assigned or resolved.",
                 SITE + "/images/icons/statuses/reopened.png"),
}
WORKFLOWS = {
    "Story": ["Backlog", "Selected for Development", "In Progress", "In Review", "Done"],
    "Task": ["Backlog", "Selected for Development", "In Progress", "In Review", "Done"],
    "Subtask": ["Backlog", "In Progress", "Done"],
    "Bug": ["Backlog", "In Progress", "In Review", "Done", "Won't Do", "Reopened"],
    "Epic": ["Backlog", "In Progress", "Done"],
}
ISSUE_TYPES = [
    # id, name, description, hierarchyLevel, subtask, avatarId, icon
    ("10000", "Epic", "A big user story that needs to be broken down. Created by Jira "
     "Software - do not edit or delete.", 1, False, 10307, "epic"),
    ("10001", "Story", "Functionality or a feature expressed as a user goal.", 0, False, 10315,
     "story"),
    ("10002", "Task", "A small, distinct piece of work.", 0, False, 10318, "task"),
    ("10003", "Bug", "A problem or error.", 0, False, 10303, "bug"),
    ("10004", "Subtask", "A small piece of work that's part of a larger task.", -1, True, 10316,
     "subtask"),
]
RESOLUTIONS = {
    "Done": {"self": SITE + "/rest/api/3/resolution/10000", "id": "10000",
             "description": "Work has been done on this issue.", "name": "Done"},
    "Won't Do": {"self": SITE + "/rest/api/3/resolution/10001", "id": "10001",
                 "description": "This issue won't be actioned.", "name": "Won't Do"},
}
PRIORITIES = [("1", "Highest", "highest"), ("2", "High", "high"), ("3", "Medium", "medium"),
              ("4", "Low", "low"), ("5", "Lowest", "lowest")]
PEOPLE = [
    ("5fc9e78d2730d800760becc4", "Zoë Ångström", "zoe.angstrom@example.com", "Europe/Stockholm",
     "zoe-a"),
    ("5b10ac8d82e05b22cc7d4ef5", "José Núñez", "jose.nunez@example.com", "America/Mexico_City",
     "jnunez"),
    ("5e9711ba34f7b90c0fbc37d3", "李小龙", "xiaolong.li@example.com", "Asia/Shanghai",
     "xlli"),
    ("5fb48fe20d2f61006f0d0106", "Runjuu Huang", "runju.huang@example.com", "Asia/Shanghai",
     "runjuu"),
    ("60a3b7c2d1e4f5a6b7c8d9e0", "Amara Okafor", "amara.okafor@example.com", "Africa/Lagos",
     "amara-o"),
    ("61b4c8d3e2f5a6b7c8d9e0f1", "Søren Kierkegaard", "soren.k@example.com",
     "Europe/Copenhagen", "skierke"),
    ("62c5d9e4f3a6b7c8d9e0f1a2", "Priya Natarajan", "priya.n@example.com", "Asia/Kolkata",
     "priyan"),
    ("63d6e0f5a4b7c8d9e0f1a2b3", "Émile Zola-Smith", "emile.zs@example.com", "Europe/Paris",
     "ezola"),
]
TEAMS = [("36885b3c-1bf0-4f85-a357-c5b858c31de4", "Platform Team 🚀"),
         ("5a0a8f9e-4c1d-4a7e-9e5b-2f3c4d5e6f70", "Data Crew"),
         ("8e1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "Équipe Mobile")]
OPTIONS_10012 = [("10019", "Low impact"), ("10020", "Medium impact"), ("10021", "High impact")]
OPTIONS_10070 = [("10030", "Yes"), ("10031", "No")]
LABELS = ["backend", "frontend", "tech-debt", "customer", "performance", "security", "ux",
          "infra"]
COMPONENTS = ["API", "Web UI", "Database", "Auth", "Ingestion"]
WORDS = ("sync retry timeout cache index queue worker schema token export import report "
         "dashboard login billing invoice search filter metric alert webhook backfill "
         "migration pagination").split()
SENTENCES = [
    "Déjà vu: the naïve café résumé parser drops the cedilla in façade.",
    "日本語のテキストと中文字符 mixed with English words.",
    "Deploy went fine 🚀🔥 but the rollback path is untested 😅.",
    "Mathematical 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and musical 𝄞 symbols are 4-byte UTF-8.",
    "Customer reports “smart quotes” and an em dash — in the export.",
    "Steps: open the page, press ⌘K, type the query, wait ≥ 5 s.",
    "Ελληνικά, русский текст, עברית, and العربية in one line.",
    "Plain ASCII sentence describing the expected behaviour.",
]


def fmt_jira(dt, tz):
    local = dt.astimezone(tz)
    off = local.strftime("%z")
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (local.microsecond // 1000) + off


def fmt_gh(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def avatar_urls(kind, ident):
    base = SITE + "/rest/api/3/universal_avatar/view/type/%s/avatar/%s" % (kind, ident)
    return {"48x48": base, "24x24": base + "?size=small", "16x16": base + "?size=xsmall",
            "32x32": base + "?size=medium"}


def user_obj(p):
    acc, name, email, tz, _ = p
    av = ("https://secure.gravatar.com/avatar/%s?d=https%%3A%%2F%%2Favatar-management--avatars"
          ".us-west-2.prod.public.atl-paas.net%%2Finitials%%2F%s-5.png"
          % (hashlib.md5(email.encode()).hexdigest(), "".join(w[0] for w in name.split()[:2])))
    return {"self": SITE + "/rest/api/3/user?accountId=" + acc, "accountId": acc,
            "emailAddress": email,
            "avatarUrls": {"48x48": av, "24x24": av, "16x16": av, "32x32": av},
            "displayName": name, "active": True, "timeZone": tz, "accountType": "atlassian"}


def status_obj(name):
    sid, cat, desc, icon = STATUSES[name]
    return {"self": SITE + "/rest/api/3/status/" + sid, "description": desc, "iconUrl": icon,
            "name": name, "id": sid, "statusCategory": dict(CAT[cat])}


def issuetype_obj(t):
    tid, name, desc, level, subtask, avatar, icon = t
    return {"self": SITE + "/rest/api/3/issuetype/" + tid, "id": tid, "description": desc,
            "iconUrl": SITE + "/rest/api/2/universal_avatar/view/type/issuetype/avatar/%d"
            "?size=medium" % avatar,
            "name": name, "subtask": subtask, "avatarId": avatar, "hierarchyLevel": level}


def priority_obj(p):
    pid, name, icon = p
    return {"self": SITE + "/rest/api/3/priority/" + pid,
            "iconUrl": SITE + "/images/icons/priorities/%s.svg" % icon, "name": name, "id": pid}


def field(fid, name, schema, custom=False, key=None, clause=None, orderable=True,
          navigable=True, searchable=True):
    f = {"id": fid, "key": key or fid, "name": name, "custom": custom, "orderable": orderable,
         "navigable": navigable, "searchable": searchable,
         "clauseNames": clause or ([fid] if not custom else
                                   ["cf[%s]" % fid.split("_")[1], name]),
         "schema": schema}
    if custom:
        f["untranslatedName"] = name
    return f


def custom_schema(typ, custom, cid, items=None):
    s = {"type": typ}
    if items:
        s["items"] = items
    s["custom"] = custom
    s["customId"] = cid
    return s


CT = "com.atlassian.jira.plugin.system.customfieldtypes:"


def build_fields():
    sysf = [
        ("summary", "Summary", {"type": "string", "system": "summary"}),
        ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
        ("parent", "Parent", {"type": "issuelink", "system": "parent"}),
        ("project", "Project", {"type": "project", "system": "project"}),
        ("description", "Description", {"type": "string", "system": "description"}),
        ("status", "Status", {"type": "status", "system": "status"}),
        ("statuscategorychangedate", "Status Category Changed",
         {"type": "datetime", "system": "statuscategorychangedate"}),
        ("priority", "Priority", {"type": "priority", "system": "priority"}),
        ("assignee", "Assignee", {"type": "user", "system": "assignee"}),
        ("reporter", "Reporter", {"type": "user", "system": "reporter"}),
        ("creator", "Creator", {"type": "user", "system": "creator"}),
        ("created", "Created", {"type": "datetime", "system": "created"}),
        ("updated", "Updated", {"type": "datetime", "system": "updated"}),
        ("resolution", "Resolution", {"type": "resolution", "system": "resolution"}),
        ("resolutiondate", "Resolved", {"type": "datetime", "system": "resolutiondate"}),
        ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
        ("components", "Components",
         {"type": "array", "items": "component", "system": "components"}),
        ("fixVersions", "Fix versions",
         {"type": "array", "items": "version", "system": "fixVersions"}),
        ("versions", "Affects versions",
         {"type": "array", "items": "version", "system": "versions"}),
        ("duedate", "Due date", {"type": "date", "system": "duedate"}),
        ("issuelinks", "Linked Issues",
         {"type": "array", "items": "issuelinks", "system": "issuelinks"}),
        ("subtasks", "Sub-tasks", {"type": "array", "items": "issuelinks", "system": "subtasks"}),
        ("comment", "Comment", {"type": "comments-page", "system": "comment"}),
        ("worklog", "Log Work", {"type": "array", "items": "worklog", "system": "worklog"}),
        ("timetracking", "Time tracking", {"type": "timetracking", "system": "timetracking"}),
        ("timespent", "Time Spent", {"type": "number", "system": "timespent"}),
        ("timeestimate", "Remaining Estimate", {"type": "number", "system": "timeestimate"}),
        ("timeoriginalestimate", "Original estimate",
         {"type": "number", "system": "timeoriginalestimate"}),
        ("environment", "Environment", {"type": "string", "system": "environment"}),
        ("watches", "Watchers", {"type": "watches", "system": "watches"}),
        ("votes", "Votes", {"type": "votes", "system": "votes"}),
        ("attachment", "Attachment",
         {"type": "array", "items": "attachment", "system": "attachment"}),
        ("security", "Security Level", {"type": "securitylevel", "system": "security"}),
        ("lastViewed", "Last Viewed", {"type": "datetime", "system": "lastViewed"}),
        ("workratio", "Work Ratio", {"type": "number", "system": "workratio"}),
        ("progress", "Progress", {"type": "progress", "system": "progress"}),
        ("aggregateprogress", "Σ Progress", {"type": "progress", "system": "aggregateprogress"}),
        ("issuerestriction", "Restrict to",
         {"type": "issuerestriction", "system": "issuerestriction"}),
    ]
    out = [field(fid, name, schema) for fid, name, schema in sysf]
    customs = [
        ("customfield_10000", "Development",
         custom_schema("any", "com.atlassian.jira.plugins.jira-development-integration-plugin:"
                       "devsummarycf", 10000)),
        ("customfield_10001", "Team",
         dict(custom_schema("team", CT + "atlassian-team", 10001),
              configuration={CT + "atlassian-team": True})),
        ("customfield_10003", "Reviewers",
         custom_schema("array", CT + "multiuserpicker", 10003, items="user")),
        ("customfield_10012", "Customer Impact", custom_schema("option", CT + "select", 10012)),
        ("customfield_10015", "Start date", custom_schema("date", CT + "datepicker", 10015)),
        ("customfield_10016", "Story point estimate",
         custom_schema("number", "com.pyxis.greenhopper.jira:jsw-story-points", 10016)),
        ("customfield_10019", "Rank",
         custom_schema("any", "com.pyxis.greenhopper.jira:gh-lexo-rank", 10019)),
        ("customfield_10020", "Sprint",
         custom_schema("array", "com.pyxis.greenhopper.jira:gh-sprint", 10020, items="json")),
        ("customfield_10028", "Story Points", custom_schema("number", CT + "float", 10028)),
        ("customfield_10050", "Release Notes", custom_schema("string", CT + "textfield", 10050)),
        ("customfield_10060", "Risk Matrix",
         custom_schema("any", "com.example.jira.plugins:risk-matrix-field", 10060)),
        ("customfield_10070", "Code Changed",
         custom_schema("array", CT + "multicheckboxes", 10070, items="option")),
    ]
    for fid, name, schema in customs:
        out.append(field(fid, name, schema, custom=True))
    return out


def adf_text(text, marks=None):
    n = {"type": "text", "text": text}
    if marks:
        n["marks"] = marks
    return n


def adf_doc(rng, idx, with_nul=False):
    para = [adf_text(rng.choice(SENTENCES) + " ")]
    para.append(adf_text("Important", [{"type": "strong"}]))
    para.append(adf_text(" see "))
    para.append(adf_text("the runbook", [{"type": "link", "attrs": {
        "href": "https://wiki.example.com/runbook/%d" % idx}}]))
    content = [{"type": "paragraph", "content": para}]
    if rng.random() < 0.5:
        content.insert(0, {"type": "heading", "attrs": {"level": 2},
                           "content": [adf_text("Context ✨")]})
    if rng.random() < 0.5:
        content.append({"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [
                adf_text(rng.choice(SENTENCES))]}]} for _ in range(rng.randint(1, 3))]})
    if rng.random() < 0.3:
        content.append({"type": "codeBlock", "attrs": {"language": "sql"}, "content": [
            adf_text("SELECT id, key FROM work_items WHERE updated >= now() - interval '1 day';")]})
    if rng.random() < 0.4:
        p = PEOPLE[rng.randrange(len(PEOPLE))]
        content.append({"type": "paragraph", "content": [
            adf_text("cc "),
            {"type": "mention", "attrs": {"id": p[0], "text": "@" + p[1], "accessLevel": ""}},
            adf_text(" "),
            {"type": "emoji", "attrs": {"shortName": ":rocket:", "id": "1f680", "text": "🚀"}}]})
    if with_nul:
        content.append({"type": "paragraph", "content": [
            adf_text("Pasted from a terminal:\u0000 a NUL byte that jsonb rejects.")]})
    return {"version": 1, "type": "doc", "content": content}


def gh_id(prefix, n):
    return prefix + base64.b64encode(("%s:%012d" % (prefix, n)).encode()).decode().rstrip("=")


class Gen:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tz = parse_tz(args.tz)
        self.history_id = 100000
        self.comment_id = 20000
        self.fields = build_fields()
        self.issues = []
        self.devstatus = {}
        self.repos = []
        self.prs = {}          # repo name -> list of PR nodes
        self.pr_numbers = {}   # repo name -> next number
        self.gh_seq = 1000

    # ------------------------------------------------------------------ projects
    def build_projects(self):
        projects = []
        for i in range(self.args.projects):
            if i < len(PROJECT_NAMES):
                key, name = PROJECT_NAMES[i]
            else:
                key, name = "P%d" % i, "Project %d" % i
            pid = str(10000 + i)
            types = [t for t in ISSUE_TYPES if not (i % 3 == 2 and t[1] == "Bug")]
            lead = PEOPLE[i % len(PEOPLE)]
            projects.append({
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "self": SITE + "/rest/api/3/project/" + pid, "id": pid, "key": key,
                "description": "Project %s — généré pour les tests 🚀" % name,
                "lead": {k: v for k, v in user_obj(lead).items()
                         if k in ("self", "accountId", "avatarUrls", "displayName", "active")},
                "issueTypes": [issuetype_obj(t) for t in types],
                "name": name, "avatarUrls": avatar_urls("project", 10400 + i),
                "projectTypeKey": "software", "simplified": False, "style": "classic",
                "isPrivate": False, "properties": {},
                "entityId": "a1b2c3d4-0000-4000-8000-%012d" % i,
                "uuid": "a1b2c3d4-0000-4000-8000-%012d" % i,
            })
            self.repos.append(self.make_repo(key.lower() + "-service", i))
        self.repos.append(self.make_repo("shared-lib", len(projects)))
        legacy = self.make_repo("legacy-monolith", len(projects) + 1)
        legacy["isArchived"] = True
        self.repos.append(legacy)
        return projects

    def make_repo(self, name, i):
        created = BASE_TIME - datetime.timedelta(days=200 - i)
        self.prs[name] = []
        self.pr_numbers[name] = 1
        return {"id": gh_id("R_kgDOK", i + 1), "databaseId": 700000001 + i, "name": name,
                "nameWithOwner": "%s/%s" % (ORG, name), "owner": {"login": ORG},
                "url": "https://github.com/%s/%s" % (ORG, name),
                "description": None if i % 2 else "Service %s — ünïcödé ✓" % name,
                "isPrivate": i % 2 == 1, "isArchived": False, "isFork": False,
                "createdAt": fmt_gh(created), "updatedAt": fmt_gh(created),
                "pushedAt": fmt_gh(created), "defaultBranchRef": {"name": "main"},
                "primaryLanguage": None if i == 2 else {"name": ["C", "Python", "Go"][i % 3]}}

    # ------------------------------------------------------------------ metadata
    def statuses_for(self, project):
        out = []
        for t in project["issueTypes"]:
            out.append({"self": SITE + "/rest/api/3/issuetype/" + t["id"], "id": t["id"],
                        "name": t["name"], "subtask": t["subtask"],
                        "statuses": [status_obj(s) for s in WORKFLOWS[t["name"]]]})
        return out

    def createmeta_for(self, project):
        fid = {f["id"]: f for f in self.fields}

        def meta(f, required=False, allowed=None, default=None):
            m = {"required": required, "schema": f["schema"], "name": f["name"],
                 "key": f["key"], "fieldId": f["id"], "hasDefaultValue": default is not None,
                 "operations": ["set"] if f["schema"].get("type") != "array"
                 else ["add", "set", "remove"]}
            if allowed is not None:
                m["allowedValues"] = allowed
            if default is not None:
                m["defaultValue"] = default
            return m
        out = {}
        for t in project["issueTypes"]:
            arr = [meta(fid["summary"], True), meta(fid["issuetype"], True,
                                                    [issuetype_obj_by_id(t["id"])]),
                   meta(fid["project"], True, [{"self": project["self"], "id": project["id"],
                                                "key": project["key"],
                                                "name": project["name"]}]),
                   meta(fid["description"]), meta(fid["reporter"], True),
                   meta(fid["assignee"]),
                   meta(fid["priority"], False, [priority_obj(p) for p in PRIORITIES],
                        priority_obj(PRIORITIES[2])),
                   meta(fid["labels"]), meta(fid["components"]), meta(fid["duedate"])]
            if t["name"] != "Epic":
                arr.append(meta(fid["parent"], t["subtask"]))
            for cf in ("customfield_10001", "customfield_10003", "customfield_10015",
                       "customfield_10019", "customfield_10020", "customfield_10050",
                       "customfield_10060"):
                arr.append(meta(fid[cf]))
            arr.append(meta(fid["customfield_10012"], False,
                            [{"self": SITE + "/rest/api/3/customFieldOption/" + o,
                              "value": v, "id": o} for o, v in OPTIONS_10012]))
            arr.append(meta(fid["customfield_10070"], False,
                            [{"self": SITE + "/rest/api/3/customFieldOption/" + o,
                              "value": v, "id": o} for o, v in OPTIONS_10070]))
            if t["name"] in ("Story", "Task", "Bug"):
                arr.append(meta(fid["customfield_10016"]))
                arr.append(meta(fid["customfield_10028"]))
            out[t["id"]] = arr
        return out

    # ------------------------------------------------------------------ issues
    def plan_types(self, project, count):
        names = [t["name"] for t in project["issueTypes"]]
        plan = []
        epics = max(1, count // 12)
        for i in range(count):
            if i < epics:
                plan.append("Epic")
            elif i == epics:
                plan.append("Story")
            elif i == epics + 1 and "Bug" in names:
                plan.append("Bug")
            else:
                r = self.rng.random()
                if r < 0.4:
                    plan.append("Story")
                elif r < 0.65:
                    plan.append("Task")
                elif r < 0.85 and "Bug" in names:
                    plan.append("Bug")
                else:
                    plan.append("Subtask")
        # a subtask needs a parent story/task/bug created before it
        for i, t in enumerate(plan):
            if t == "Subtask" and not any(x in ("Story", "Task", "Bug") for x in plan[:i]):
                plan[i] = "Task"
        return plan

    def new_history(self, when, author, items):
        self.history_id += 1
        return {"id": str(self.history_id), "author": user_obj(author),
                "created": fmt_jira(when, self.tz), "items": items}

    @staticmethod
    def status_item(a, b):
        return {"field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": STATUSES[a][0], "fromString": a, "to": STATUSES[b][0], "toString": b}

    def walk(self, itype, special, start, assignee):
        """A status path and the changelog that produced it; returns (histories, final, t)."""
        rng = self.rng
        t = start
        hist = []
        cur = "Backlog"

        def step(to, extra=None):
            nonlocal t, cur
            t = t + datetime.timedelta(hours=rng.randint(1, 30), minutes=rng.randint(0, 59))
            items = [self.status_item(cur, to)]
            if STATUSES[to][1] == "done" and STATUSES[cur][1] != "done":
                res = RESOLUTIONS["Won't Do" if to == "Won't Do" else "Done"]
                items.append({"field": "resolution", "fieldtype": "jira",
                              "fieldId": "resolution", "from": None, "fromString": None,
                              "to": res["id"], "toString": res["name"]})
            if STATUSES[cur][1] == "done" and STATUSES[to][1] != "done":
                items.append({"field": "resolution", "fieldtype": "jira",
                              "fieldId": "resolution", "from": "10000", "fromString": "Done",
                              "to": None, "toString": None})
            if extra:
                items.extend(extra)
            hist.append(self.new_history(t, assignee, items))
            cur = to

        if special == "long":
            step("Selected for Development")
            step("In Progress")
            n = 0
            while len(hist) < 126:
                n += 1
                t = t + datetime.timedelta(minutes=rng.randint(5, 200))
                kind = (n - 1) % 4
                if kind == 0:
                    step("In Review")
                elif kind == 1:
                    step("In Progress")
                elif kind == 2:
                    hist.append(self.new_history(t, assignee, [{
                        "field": "Rank", "fieldtype": "custom", "fieldId": "customfield_10019",
                        "from": "", "fromString": "", "to": "",
                        "toString": "Ranked higher"}]))
                else:
                    hist.append(self.new_history(t, assignee, [{
                        "field": "labels", "fieldtype": "jira", "fieldId": "labels",
                        "from": None, "fromString": "", "to": None,
                        "toString": LABELS[n % len(LABELS)]}]))
            if cur != "In Review":
                step("In Review")
            step("Done")
            return hist, cur, t
        if special == "reopen":
            step("In Progress")
            step("Backlog")          # returned to the backlog
            step("In Progress")
            step("In Review")
            step("Done")
            step("Reopened")         # reopened after done
            step("In Progress")
            step("In Review")
            step("Done")
            return hist, cur, t

        flow = [s for s in WORKFLOWS[itype] if s not in ("Won't Do", "Reopened")]
        target = rng.choice(flow)
        if itype == "Bug" and rng.random() < 0.1:
            target = "Won't Do"
        if target == "Won't Do":
            step("Won't Do")
            return hist, cur, t
        idx = flow.index(target)
        for s in flow[1:idx + 1]:
            step(s)
            if s == "In Review" and rng.random() < 0.3 and target != "In Review":
                step("In Progress")      # sent back from review
                step("In Review")
        return hist, cur, t

    def build_issue(self, project, pidx, num, itype, special, parent):
        rng = self.rng
        self.issue_seq += 1
        iid = str(10000 + self.issue_seq)
        key = "%s-%d" % (project["key"], num)
        created = BASE_TIME + datetime.timedelta(hours=self.issue_seq * 5 + rng.randint(0, 4),
                                                 minutes=rng.randint(0, 59),
                                                 seconds=rng.randint(0, 59),
                                                 milliseconds=rng.randint(0, 999))
        reporter = PEOPLE[rng.randrange(len(PEOPLE))]
        assignee = PEOPLE[rng.randrange(len(PEOPLE))] if rng.random() < 0.85 else None
        actor = assignee or reporter
        hist, final, last = self.walk(itype, special, created, actor)

        # non-status changes sprinkled in (story points, sprint, assignee)
        extra_t = created + datetime.timedelta(minutes=rng.randint(1, 50))
        extra = []
        sp = None
        if itype in ("Story", "Task", "Bug"):
            sp = rng.choice([1, 2, 3, 5, 8, 13, None])
            if sp is not None:
                extra.append(self.new_history(extra_t, reporter, [{
                    "field": "Story point estimate", "fieldtype": "custom",
                    "fieldId": "customfield_10016", "from": None, "fromString": None,
                    "to": None, "toString": str(sp)}]))
        if assignee:
            extra.append(self.new_history(extra_t + datetime.timedelta(minutes=1), reporter, [{
                "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                "from": None, "fromString": None, "to": assignee[0], "toString": assignee[1],
                "tmpFromAccountId": None, "tmpToAccountId": assignee[0]}]))
        sprint = None
        if itype != "Epic" and rng.random() < 0.6:
            sn = 1 + (self.issue_seq // 10)
            sstart = BASE_TIME + datetime.timedelta(days=14 * (sn - 1))
            state = "closed" if final in ("Done", "Won't Do") else "active"
            sprint = [{"id": 30 + sn, "name": "%s Sprint %d" % (project["key"], sn),
                       "state": state, "boardId": 1 + pidx, "goal": "",
                       "startDate": fmt_gh(sstart) .replace("Z", ".000Z"),
                       "endDate": fmt_gh(sstart + datetime.timedelta(days=14))
                       .replace("Z", ".000Z")}]
            if state == "closed":
                sprint[0]["completeDate"] = sprint[0]["endDate"]
            extra.append(self.new_history(extra_t + datetime.timedelta(minutes=2), reporter, [{
                "field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
                "from": "", "fromString": "", "to": str(sprint[0]["id"]),
                "toString": sprint[0]["name"]}]))
        histories = sorted(hist + extra, key=lambda h: (h["created"], int(h["id"])))

        # comments
        comments = []
        ct = created
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            self.comment_id += 1
            ct = ct + datetime.timedelta(hours=rng.randint(1, 20))
            who = PEOPLE[rng.randrange(len(PEOPLE))]
            comments.append({
                "self": SITE + "/rest/api/3/issue/%s/comment/%d" % (iid, self.comment_id),
                "id": str(self.comment_id), "author": user_obj(who),
                "body": {"version": 1, "type": "doc", "content": [{"type": "paragraph",
                         "content": [adf_text(rng.choice(SENTENCES))]}]},
                "updateAuthor": user_obj(who), "created": fmt_jira(ct, self.tz),
                "updated": fmt_jira(ct, self.tz), "jsdPublic": True})
        times = [created] + [parse_jira(h["created"]) for h in histories] + \
                [parse_jira(c["updated"]) for c in comments]
        updated = max(times)

        status = status_obj(final)
        cat_change = created
        prev_cat = "new"
        for h in histories:
            for it in h["items"]:
                if it["field"] == "status":
                    c = STATUSES[it["toString"]][1]
                    if c != prev_cat:
                        cat_change = parse_jira(h["created"])
                        prev_cat = c
        resolved = None
        resolution = None
        if STATUSES[final][1] == "done":
            resolution = RESOLUTIONS["Won't Do" if final == "Won't Do" else "Done"]
            resolved = cat_change
        itype_obj = issuetype_obj(next(t for t in ISSUE_TYPES if t[1] == itype))
        prio = PRIORITIES[rng.randrange(len(PRIORITIES))]
        summary_word = rng.choice(WORDS)
        summary = "%s: %s %s" % (itype, summary_word.capitalize(),
                                 rng.choice(["is slow", "fails on retry", "needs pagination",
                                             "drops unicode ✓", "should support backfill",
                                             "times out after 30 s", "ignores the watermark"]))
        team = TEAMS[pidx % len(TEAMS)] if rng.random() < 0.7 else None
        with_nul = (self.issue_seq == 7)
        desc = None if rng.random() < 0.15 and not with_nul else adf_doc(rng, self.issue_seq,
                                                                         with_nul)
        fields = {
            "statuscategorychangedate": fmt_jira(cat_change, self.tz),
            "issuetype": itype_obj,
            "timespent": None,
            "project": {"self": project["self"], "id": project["id"], "key": project["key"],
                        "name": project["name"], "projectTypeKey": "software",
                        "simplified": False, "avatarUrls": project["avatarUrls"]},
            "fixVersions": [],
            "aggregatetimespent": None,
            "resolution": resolution,
            "resolutiondate": fmt_jira(resolved, self.tz) if resolved else None,
            "workratio": -1,
            "watches": {"self": SITE + "/rest/api/3/issue/%s/watchers" % key,
                        "watchCount": rng.randint(0, 4), "isWatching": False},
            "lastViewed": None,
            "issuerestriction": {"issuerestrictions": {}, "shouldDisplay": False},
            "created": fmt_jira(created, self.tz),
            "customfield_10020": sprint,
            "priority": priority_obj(prio),
            "labels": sorted(rng.sample(LABELS, rng.randint(0, 3))),
            "customfield_10016": sp,
            "customfield_10028": float(sp) if sp is not None and rng.random() < 0.5 else None,
            "customfield_10019": "0|i%05x:" % (self.issue_seq * 7919 % 1048575),
            "timeestimate": None,
            "aggregatetimeoriginalestimate": None,
            "versions": [],
            "issuelinks": [],
            "assignee": user_obj(assignee) if assignee else None,
            "updated": fmt_jira(updated, self.tz),
            "status": status,
            "components": [{"self": SITE + "/rest/api/3/component/%d" % (10060 + ci),
                            "id": str(10060 + ci), "name": COMPONENTS[ci],
                            "description": "This is a Jira component"}
                           for ci in sorted(rng.sample(range(len(COMPONENTS)),
                                                       rng.randint(0, 2)))],
            "timeoriginalestimate": None,
            "description": desc,
            "customfield_10012": (lambda o: {"self": SITE + "/rest/api/3/customFieldOption/"
                                             + o[0], "value": o[1], "id": o[0]})(
                OPTIONS_10012[rng.randrange(3)]) if rng.random() < 0.5 else None,
            "customfield_10015": (created.date() + datetime.timedelta(days=1)).isoformat()
            if rng.random() < 0.4 else None,
            "timetracking": {},
            "customfield_10001": {"id": team[0], "name": team[1], "avatarUrl": "",
                                  "isVisible": True, "isVerified": False, "title": team[1],
                                  "isShared": True} if team else None,
            "customfield_10003": [user_obj(p) for p in rng.sample(PEOPLE, rng.randint(1, 3))]
            if rng.random() < 0.35 else None,
            "security": None,
            "aggregatetimeestimate": None,
            "attachment": [],
            "summary": summary,
            "creator": user_obj(reporter),
            "subtasks": [],
            "customfield_10050": ("Release note: %s ✓" % rng.choice(SENTENCES))
            if rng.random() < 0.3 else None,
            "customfield_10060": {"likelihood": rng.randint(1, 5),
                                  "impact": rng.choice(["low", "medium", "high"]),
                                  "score": round(rng.random() * 10, 2),
                                  "matrix": [[1, 2], [3, 4]]} if rng.random() < 0.25 else None,
            "customfield_10070": [{"self": SITE + "/rest/api/3/customFieldOption/10030",
                                   "value": "Yes", "id": "10030"}]
            if rng.random() < 0.3 else None,
            "customfield_10000": "{}",
            "development": "",
            "reporter": user_obj(reporter),
            "aggregateprogress": {"progress": 0, "total": 0},
            "environment": None,
            "duedate": (created.date() + datetime.timedelta(days=21)).isoformat()
            if rng.random() < 0.2 else None,
            "progress": {"progress": 0, "total": 0},
            "votes": {"self": SITE + "/rest/api/3/issue/%s/votes" % key, "votes": 0,
                      "hasVoted": False},
            "comment": {"comments": comments,
                        "self": SITE + "/rest/api/3/issue/%s/comment" % iid,
                        "maxResults": len(comments), "total": len(comments), "startAt": 0},
            "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
        }
        if parent is not None:
            pf = parent["fields"]
            fields["parent"] = {"id": parent["id"], "key": parent["key"], "self": parent["self"],
                                "fields": {"summary": pf["summary"], "status": pf["status"],
                                           "priority": pf["priority"],
                                           "issuetype": pf["issuetype"]}}
            if itype == "Subtask":
                parent["fields"]["subtasks"].append({
                    "id": iid, "key": key, "self": SITE + "/rest/api/3/issue/" + iid,
                    "fields": {"summary": summary, "status": status,
                               "priority": priority_obj(prio), "issuetype": itype_obj}})
        issue = {"expand": "operations,versionedRepresentations,editmeta,changelog,"
                           "renderedFields",
                 "id": iid, "self": SITE + "/rest/api/3/issue/" + iid, "key": key,
                 "fields": fields,
                 "changelog": {"startAt": 0, "maxResults": len(histories),
                               "total": len(histories), "histories": histories}}
        return issue, updated

    def link_prs(self, issue, project_idx, updated):
        """Create 1-2 pull requests for the issue; fill `development` and devstatus."""
        rng = self.rng
        repo = self.repos[project_idx]
        prs = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            pr = self.make_pr(repo, issue, updated)
            prs.append(pr)
        states = {"MERGED": "MERGED", "OPEN": "OPEN", "CLOSED": "DECLINED"}
        detail_prs = []
        for pr in prs:
            author = pr["author"]["login"]
            detail_prs.append({
                "author": {"name": author,
                           "avatar": "https://avatars.githubusercontent.com/u/%d?v=4"
                           % (1000 + len(author))},
                "id": "#%d" % pr["number"],
                "name": pr["title"],
                "commentCount": pr["comments"]["totalCount"],
                "source": {"branch": pr["headRefName"],
                           "url": "%s/tree/%s" % (repo["url"], pr["headRefName"])},
                "destination": {"branch": pr["baseRefName"],
                                "url": "%s/tree/%s" % (repo["url"], pr["baseRefName"])},
                "reviewers": [{"name": r["author"]["login"],
                               "avatar": "https://avatars.githubusercontent.com/u/1?v=4",
                               "approved": r["state"] == "APPROVED"}
                              for r in pr["reviews"]["nodes"][:2]],
                "status": states[pr["state"]],
                "url": pr["url"],
                "lastUpdate": fmt_jira(parse_gh(pr["updatedAt"]), self.tz),
                "repositoryId": str(repo["databaseId"]),
                "repositoryName": repo["nameWithOwner"],
                "repositoryUrl": repo["url"],
                "repositoryAvatarUrl": "https://avatars.githubusercontent.com/u/9919?v=4",
            })
        self.devstatus[issue["id"]] = {"errors": [], "detail": [{
            "branches": [], "pullRequests": detail_prs, "repositories": [],
            "_instance": {"singleInstance": True, "baseUrl": "https://github.com",
                          "name": "GitHub", "typeName": "GitHub", "id": "github",
                          "type": "GitHub"}}]}
        overall_state = "OPEN" if any(p["state"] == "OPEN" for p in prs) else \
            ("MERGED" if any(p["state"] == "MERGED" for p in prs) else "DECLINED")
        last = max(parse_gh(p["updatedAt"]) for p in prs)
        summary = {"cachedValue": {"errors": [], "summary": {"pullrequest": {
            "overall": {"count": len(prs), "lastUpdated": fmt_jira(last, self.tz),
                        "stateCount": len(prs), "state": overall_state,
                        "dataType": "pullrequest", "open": overall_state == "OPEN"},
            "byInstanceType": {"GitHub": {"count": len(prs), "name": "GitHub"}}}}},
            "isStale": False}
        dev = ("{pullrequest={dataType=pullrequest, state=%s, stateCount=%d}, json=%s}"
               % (overall_state, len(prs),
                  json.dumps(summary, separators=(",", ":"), ensure_ascii=False)))
        issue["fields"]["customfield_10000"] = dev
        issue["fields"]["development"] = dev

    def make_pr(self, repo, issue, near, big=False):
        rng = self.rng
        name = repo["name"]
        number = self.pr_numbers[name]
        self.pr_numbers[name] += 1
        self.gh_seq += 1
        seq = self.gh_seq
        created = near - datetime.timedelta(hours=rng.randint(2, 48))
        author = PEOPLE[rng.randrange(len(PEOPLE))]
        state = rng.choice(["MERGED", "MERGED", "MERGED", "OPEN", "CLOSED"])
        if big:
            state = "MERGED"
        ncommits = 250 if big else rng.randint(1, 6)
        nreviews = 130 if big else rng.randint(0, 3)
        ncomments = 120 if big else rng.randint(0, 4)
        t = created
        commits = []
        for c in range(ncommits):
            t = t + datetime.timedelta(minutes=rng.randint(1, 20))
            oid = hashlib.sha1(("%s/%d/%d" % (name, number, c)).encode()).hexdigest()
            who = PEOPLE[rng.randrange(len(PEOPLE))]
            commits.append({"id": gh_id("PURC_lADO", seq * 1000 + c), "commit": {
                "oid": oid,
                "message": "%s: %s step %d%s" % (issue["key"] if issue else "chore",
                                                 rng.choice(WORDS), c,
                                                 " 🔧" if c % 7 == 0 else ""),
                "committedDate": fmt_gh(t), "authoredDate": fmt_gh(t),
                "additions": rng.randint(0, 120), "deletions": rng.randint(0, 60),
                "author": {"name": who[1], "email": who[2], "date": fmt_gh(t),
                           "user": {"login": who[4]}}}})
        reviews = []
        for r in range(nreviews):
            t = t + datetime.timedelta(minutes=rng.randint(1, 30))
            who = PEOPLE[rng.randrange(len(PEOPLE))]
            rstate = "APPROVED" if r == nreviews - 1 and state == "MERGED" else \
                rng.choice(["COMMENTED", "CHANGES_REQUESTED", "COMMENTED"])
            reviews.append({"id": gh_id("PRR_kwDOK", seq * 1000 + r),
                            "databaseId": 2192199000 + seq * 1000 + r,
                            "author": {"login": who[4], "url": "https://github.com/" + who[4]},
                            "state": rstate, "body": "" if rstate == "APPROVED" else
                            rng.choice(SENTENCES),
                            "submittedAt": fmt_gh(t), "updatedAt": fmt_gh(t),
                            "url": "%s/pull/%d#pullrequestreview-%d"
                            % (repo["url"], number, 2192199000 + seq * 1000 + r),
                            "comments": {"totalCount": rng.randint(0, 2)}})
        comments = []
        for c in range(ncomments):
            t = t + datetime.timedelta(minutes=rng.randint(1, 30))
            who = PEOPLE[rng.randrange(len(PEOPLE))]
            comments.append({"id": gh_id("IC_kwDOK", seq * 1000 + c),
                             "databaseId": 1800000000 + seq * 1000 + c,
                             "author": {"login": who[4], "url": "https://github.com/" + who[4]},
                             "body": rng.choice(SENTENCES) + "\r\n",
                             "createdAt": fmt_gh(t), "updatedAt": fmt_gh(t),
                             "url": "%s/pull/%d#issuecomment-%d"
                             % (repo["url"], number, 1800000000 + seq * 1000 + c)})
        closed = t + datetime.timedelta(minutes=rng.randint(5, 90))
        updated = closed if state != "OPEN" else t
        key = issue["key"] if issue else None
        slug = rng.choice(WORDS)
        head = ("feature/%s-%s" % (key, slug)) if key else "chore/%s-%d" % (slug, number)
        title = ("%s: %s %s" % (key, slug.capitalize(), rng.choice(
            ["fix", "support", "refactor", "tests"]))) if key else \
            "Chore: bump %s" % slug
        merge_oid = hashlib.sha1(("merge/%s/%d" % (name, number)).encode()).hexdigest()
        pr = {
            "id": gh_id("PR_kwDOK", seq), "databaseId": 1600000000 + seq, "number": number,
            "title": title,
            "body": ("Fixes %s\r\n\r\n%s" % (key, rng.choice(SENTENCES))) if key else "",
            "state": state, "isDraft": state == "OPEN" and rng.random() < 0.3,
            "url": "%s/pull/%d" % (repo["url"], number),
            "createdAt": fmt_gh(created), "updatedAt": fmt_gh(updated),
            "closedAt": fmt_gh(closed) if state != "OPEN" else None,
            "mergedAt": fmt_gh(closed) if state == "MERGED" else None,
            "additions": sum(c["commit"]["additions"] for c in commits),
            "deletions": sum(c["commit"]["deletions"] for c in commits),
            "changedFiles": rng.randint(1, 30),
            "baseRefName": "main", "headRefName": head,
            "author": {"login": author[4], "url": "https://github.com/" + author[4]},
            "mergedBy": {"login": "zoe-a", "url": "https://github.com/zoe-a"}
            if state == "MERGED" else None,
            "mergeCommit": {"oid": merge_oid} if state == "MERGED" else None,
            "baseRepository": {"name": name, "owner": {"login": ORG}},
            "headRepository": {"name": name, "owner": {"login": ORG}},
            "labels": {"totalCount": 1, "nodes": [{"name": rng.choice(LABELS)}]},
            "commits": {"totalCount": len(commits), "nodes": commits},
            "reviews": {"totalCount": len(reviews), "nodes": reviews},
            "comments": {"totalCount": len(comments), "nodes": comments},
        }
        self.prs[name].append(pr)
        repo["updatedAt"] = max(repo["updatedAt"], pr["updatedAt"])
        repo["pushedAt"] = max(repo["pushedAt"], pr["updatedAt"])
        return pr

    # ------------------------------------------------------------------ main
    def run(self):
        projects = self.build_projects()
        self.issue_seq = 0
        n = self.args.issues
        per = [n // len(projects) + (1 if i < n % len(projects) else 0)
               for i in range(len(projects))] if projects else []
        plans = [self.plan_types(p, per[i]) for i, p in enumerate(projects)]
        # interleave projects so ids and created times mix across projects
        counters = [0] * len(projects)
        parents = {i: [] for i in range(len(projects))}
        epics = {i: [] for i in range(len(projects))}
        specials_done = set()
        order = []
        for j in range(max(per) if per else 0):
            for i in range(len(projects)):
                if j < len(plans[i]):
                    order.append((i, plans[i][j]))
        for i, itype in order:
            counters[i] += 1
            special = None
            if i == 0 and itype == "Story" and "long" not in specials_done:
                special = "long"
                specials_done.add("long")
            elif i == 0 and itype == "Bug" and "reopen" not in specials_done:
                special = "reopen"
                specials_done.add("reopen")
            parent = None
            if itype == "Subtask":
                parent = self.rng.choice(parents[i])
            elif itype != "Epic" and epics[i] and self.rng.random() < 0.6:
                parent = self.rng.choice(epics[i])
            issue, updated = self.build_issue(projects[i], i, counters[i], itype, special,
                                              parent)
            if itype in ("Story", "Task", "Bug"):
                parents[i].append(issue)
            if itype == "Epic":
                epics[i].append(issue)
            if itype in ("Story", "Task", "Bug") and (special == "long"
                                                       or self.rng.random() < 0.3):
                self.link_prs(issue, i, updated)
            self.issues.append(issue)
        # the big pull request (nested paging) and a few unlinked ones
        if self.repos:
            self.make_pr(self.repos[0], self.issues[0] if self.issues else None,
                         BASE_TIME + datetime.timedelta(days=20), big=True)
            for r in self.repos[:-1]:
                for _ in range(2):
                    self.make_pr(r, None, BASE_TIME + datetime.timedelta(
                        days=self.rng.randint(1, 40)))
            self.extra_prs()
        return projects

    def extra_prs(self):
        """--prs-per-repo and --big-prs: unlinked pull requests for benchmarks, made after
        everything else so that the default output does not change."""
        live = self.repos[:-1]
        for r in live:
            for _ in range(self.args.prs_per_repo):
                self.make_pr(r, None, BASE_TIME + datetime.timedelta(
                    days=self.rng.randint(1, 40), minutes=self.rng.randint(0, 1439)))
        for i in range(self.args.big_prs):
            self.make_pr(live[i % len(live)], None, BASE_TIME + datetime.timedelta(
                days=self.rng.randint(1, 40), minutes=self.rng.randint(0, 1439)), big=True)

    def write(self, projects):
        out = self.args.out
        os.makedirs(out, exist_ok=True)
        for sub in ("issues", "createmeta", "statuses", "devstatus"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
            os.makedirs(os.path.join(out, sub))
        dump(os.path.join(out, "projects.json"), projects)
        dump(os.path.join(out, "fields.json"), self.fields)
        for p in projects:
            dump(os.path.join(out, "statuses", p["key"] + ".json"), self.statuses_for(p))
            dump(os.path.join(out, "createmeta", p["key"] + ".json"), self.createmeta_for(p))
        for issue in self.issues:
            dump(os.path.join(out, "issues", issue["key"] + ".json"), issue)
        for iid, doc in sorted(self.devstatus.items()):
            dump(os.path.join(out, "devstatus", iid + ".json"), doc)
        if self.args.github_out:
            g = self.args.github_out
            os.makedirs(g, exist_ok=True)
            shutil.rmtree(os.path.join(g, "prs"), ignore_errors=True)
            dump(os.path.join(g, "repos.json"), {ORG: self.repos})
            for name, prs in self.prs.items():
                if prs:
                    dump(os.path.join(g, "prs", ORG, name + ".json"),
                         sorted(prs, key=lambda p: p["number"]))


def issuetype_obj_by_id(tid):
    return issuetype_obj(next(t for t in ISSUE_TYPES if t[0] == tid))


def parse_jira(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_gh(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def parse_tz(spec):
    sign = -1 if spec.startswith("-") else 1
    digits = spec.lstrip("+-").replace(":", "")
    return datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]),
                                                       minutes=int(digits[2:4] or 0)))


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--projects", type=int, default=3)
    p.add_argument("--issues", type=int, default=300)
    p.add_argument("--out", required=True, help="Jira dataset directory to (re)write")
    p.add_argument("--github-out", help="also write the matching GitHub dataset here")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--tz", default="+0000", help="offset of the rendered Jira times")
    p.add_argument("--prs-per-repo", type=int, default=0, metavar="N",
                   help="add N unlinked pull requests to each repository but the archived one")
    p.add_argument("--big-prs", type=int, default=0, metavar="N",
                   help="add N pull requests with 250 commits, 130 reviews and 120 comments")
    args = p.parse_args()
    if args.projects < 1 or args.issues < 0:
        p.error("need at least one project")
    if args.prs_per_repo < 0 or args.big_prs < 0:
        p.error("--prs-per-repo and --big-prs take a count >= 0")
    g = Gen(args)
    projects = g.run()
    g.write(projects)
    print("wrote %d projects, %d issues, %d devstatus files to %s%s"
          % (len(projects), len(g.issues), len(g.devstatus), args.out,
             (", %d repositories / %d pull requests to %s"
              % (len(g.repos), sum(len(v) for v in g.prs.values()), args.github_out))
             if args.github_out else ""))


if __name__ == "__main__":
    main()
