#!/usr/bin/env python3
"""Search pages of N issues with complete changelogs, for bench/run's bench_transform.

    transform_data.py TEMPLATE_DATASET N OUTDIR [--page-size 100] [--first-id 1000]
                      [--tenant 1] [--integration 1] [--token UUID]

TEMPLATE_DATASET is a gen_jira_dataset.py output; its issues are cloned round-robin with new
ids, keys and history ids, without the fields etl-extract does not ask for (comment, worklog,
attachment, watches, votes, lastViewed, issuerestriction), the changelog complete (total =
histories).  Writes:
  OUTDIR/pages.ndjson    one search page (JSON) per line, raw id --first-id, +1, ...
  OUTDIR/issues.ndjson   the transform messages of the pages
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("template")
    ap.add_argument("n", type=int)
    ap.add_argument("outdir")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--first-id", type=int, default=1000)
    ap.add_argument("--tenant", type=int, default=1)
    ap.add_argument("--integration", type=int, default=1)
    ap.add_argument("--token", default="be0c4b1e-0000-4000-8000-000000000001")
    a = ap.parse_args()

    tdir = os.path.join(a.template, "issues")
    templates = []
    for name in sorted(os.listdir(tdir)):
        with open(os.path.join(tdir, name), encoding="utf-8") as f:
            d = json.load(f)
        for k in ("comment", "worklog", "attachment", "watches", "votes", "lastViewed",
                  "issuerestriction"):
            d["fields"].pop(k, None)
        hs = d["changelog"]["histories"]
        d["changelog"] = {"startAt": 0, "maxResults": len(hs), "total": len(hs),
                          "histories": hs}
        for j, h in enumerate(hs):
            h["id"] = "@H%d@" % j
        proj = d["fields"]["project"]["key"]
        d["id"] = "@ID@"
        d["key"] = "@KEY@"
        text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        # split once: per clone only the pieces between placeholders are joined
        templates.append((proj, len(hs), text))

    os.makedirs(a.outdir, exist_ok=True)
    plain = open(os.path.join(a.outdir, "pages.ndjson"), "w", encoding="utf-8")
    msgs = open(os.path.join(a.outdir, "issues.ndjson"), "w", encoding="utf-8")
    npages = (a.n + a.page_size - 1) // a.page_size
    rid = a.first_id
    for p in range(npages):
        parts = []
        for i in range(p * a.page_size, min(a.n, (p + 1) * a.page_size)):
            proj, nh, text = templates[i % len(templates)]
            iid = str(10000000 + i)
            t = text.replace('"@ID@"', '"%s"' % iid, 1).replace('"@KEY@"',
                                                                 '"%s-%d"' % (proj, i + 1), 1)
            for j in range(nh):
                t = t.replace('"@H%d@"' % j, '"%d"' % (i * 1000 + j), 1)
            parts.append(t)
        last = p == npages - 1
        page = '{"issues":[' + ",".join(parts) + '],' + \
            ('"isLast":true}' if last else '"nextPageToken":"p%d","isLast":false}' % (p + 1))
        plain.write(page + "\n")
        msgs.write(json.dumps({
            "tenant_id": a.tenant, "job_id": None, "token": a.token,
            "type": "jira_issues_with_changelogs", "provider": "jira",
            "first_item": p == 0, "last_item": last, "last_job_item": last,
            "integration_id": a.integration, "last_sync_date": None, "raw_data_id": rid,
            "raw_kind": "search_jql"}, separators=(",", ":")) + "\n")
        rid += 1
    for f in (plain, msgs):
        f.close()


if __name__ == "__main__":
    main()
