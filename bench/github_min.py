#!/usr/bin/env python3
"""The fewest GraphQL requests a full GitHub sync of a fake dataset can make, and their points.

    github_min.py DATASET-DIR   ->   "PRS REQUESTS POINTS NESTED-PAGES BIG-PRS"

The plan priced is the smallest number of requests under GitHub's limits (first <= 100):
one repositoryOwner.repositories page per 100 repositories, then for every repository
max(1, ceil(prs / 100)) pullRequests pages of first: 100 with nested first: 100, and for
every pull request whose commits, reviews or comments exceed 100 the node(id:) pages the
rest needs, ceil((total - 100) / 100) each.  Points follow GitHub's formula (as the fake
does): max(1, round(connection requests / 100)), so a pullRequests page costs
round((1 + 100 * 3) / 100) = 3 and a repositories or node page costs 1.  BIG-PRS counts the
pull requests with more than 100 commits.  Stdlib only.
"""
import json
import math
import os
import sys

PAGE = 100


def points(requests):
    return max(1, int(round(requests / 100.0)))


def main():
    data = sys.argv[1]
    with open(os.path.join(data, "repos.json"), encoding="utf-8") as f:
        repos = json.load(f)
    if isinstance(repos, dict):
        repos = [dict(r, owner=r.get("owner") or {"login": login})
                 for login, rs in repos.items() for r in rs]
    nrepos = len(repos)
    reqs = pts = math.ceil(nrepos / PAGE) or 1
    prs = nested = big = 0
    for r in repos:
        path = os.path.join(data, "prs", r["owner"]["login"], r["name"] + ".json")
        try:
            with open(path, encoding="utf-8") as f:
                nodes = json.load(f)
        except FileNotFoundError:
            nodes = []
        pages = max(1, math.ceil(len(nodes) / PAGE))
        reqs += pages
        pts += pages * points(1 + PAGE * 3)
        prs += len(nodes)
        for pr in nodes:
            for conn in ("commits", "reviews", "comments"):
                extra = math.ceil(max(0, pr[conn]["totalCount"] - PAGE) / PAGE)
                nested += extra
            big += pr["commits"]["totalCount"] > PAGE
    reqs += nested
    pts += nested * points(1)
    print(prs, reqs, pts, nested, big)


if __name__ == "__main__":
    main()
