"""The parts of a read in `perf script` samples (bench/profile-read.sh).

    python3 bench/profile_read.py APP.stacks APP_US D.stacks D_US

Each sample goes to the first part of PARTS one of its frames matches, so
the parts do not overlap; a part's µs a read is its share of the samples
times the CPU a read measured from /proc (APP_US, D_US).
"""

import re
import sys

PARTS = [
    ("token check (JwtKeys::verify)", r"JwtKeys::verify"),
    ("rest of the caller (claims, D9, log label)", r"auth::Caller as .*FromRequestParts"),
    ("request log line", r"DefaultOnResponse"),
    ("request span and id", r"MakeSpan|make_span|on_new_span|Span::new|deleghe_app::request_id|uuid::"),
    ("rows decoded (JSON)", r"RawDelegation::into_row|readside::from_json"),
    ("database round trip (sqlx)", r"sqlx_core|sqlx_postgres"),
    ("answer encoded (JSON)", r"Serialize for|serde_json::ser|Json<T> as axum_core::response"),
    # The handler's own frames (axum's Handler inlines it), (d)'s pool.
    ("rest of the handler", r"deleghe_app::routes|deleghe_adapters::projection|deleghe_minimal_read|deadpool|axum::handler::Handler<"),
    ("HTTP: hyper, axum, tower, the sockets", r"hyper::|hyper_util|axum::|tower|serve_connection"),
]


def samples(path):
    """Each sample's frames, leaf first."""
    out, cur = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            if line[0] not in " \t":
                if cur is not None:
                    out.append(cur)
                cur = []
            elif cur is not None:
                parts = line.strip().split(" ", 1)
                cur.append(parts[1] if len(parts) > 1 else parts[0])
    if cur is not None:
        out.append(cur)
    return out


HTTP = PARTS[-1][0]


def shares(path):
    """Each part's share of the samples, their number, and the leaf frames
    of the HTTP part, counted."""
    found = samples(path)
    leaves = {}
    counts = {name: 0 for name, _ in PARTS}
    counts["other (workers, runtime, unknown)"] = 0
    rules = [(name, re.compile(p)) for name, p in PARTS]
    for frames in found:
        for name, rule in rules:
            if any(rule.search(f) for f in frames):
                counts[name] += 1
                if name == HTTP and frames:
                    leaves[frames[0]] = leaves.get(frames[0], 0) + 1
                break
        else:
            counts["other (workers, runtime, unknown)"] += 1
    total = max(len(found), 1)
    return {k: v / total for k, v in counts.items()}, len(found), leaves


def main():
    app_path, app_us, d_path, d_us = sys.argv[1:5]
    app, app_n, app_leaves = shares(app_path)
    d, d_n, d_leaves = shares(d_path)
    app_us, d_us = float(app_us or 0), float(d_us or 0)
    print(f"{'part of a read':<46} {'the app':>16} {'(d)':>16}")
    for name in app:
        print(
            f"{name:<46} {app[name] * app_us:7.1f} µs {app[name]:5.1%}"
            f" {d[name] * d_us:7.1f} µs {d[name]:5.1%}"
        )
    print(f"{'all (CPU a read, /proc)':<46} {app_us:7.1f} µs {'':5} {d_us:7.1f} µs")
    print(f"samples: the app {app_n}, (d) {d_n}")
    for side, leaves, n, us in [("the app", app_leaves, app_n, app_us), ("(d)", d_leaves, d_n, d_us)]:
        print(f"the HTTP part's busiest frames, {side}:")
        for frame, count in sorted(leaves.items(), key=lambda kv: -kv[1])[:10]:
            print(f"  {count / max(n, 1) * us:6.1f} µs  {frame[:100]}")


if __name__ == "__main__":
    main()
