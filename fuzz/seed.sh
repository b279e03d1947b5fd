#!/usr/bin/env bash
# Seeds the fuzz corpora from the project's own inputs: the golden manifests, the
# example documents, and an export of a small store.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/pipeline corpus/names corpus/frames corpus/records corpus/values
for f in ../tests/golden/pipeline/*/*.toml ../pipeline.toml; do
  cp "$f" "corpus/pipeline/$(printf '%s' "$f" | tr '/.' '__')"
done
for k in coding/architecture/performance a//b ../x "with space" baton.events; do
  printf '%s' "$k" > "corpus/names/$(printf '%s' "$k" | sha1sum | cut -c1-12)"
done
for f in ../examples/*/*.json; do
  cp "$f" "corpus/values/$(printf '%s' "$f" | tr '/.' '__')"
done
printf '{"namespace":"n","key":"k","revision":1,"written_at":"2026-01-01T00:00:00.000Z","writer":"cli","size":2,"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","value":{}}\n' > corpus/records/one
python3 - <<'PY'
import json, struct
hello = json.dumps({"build": "b", "retention": 16, "replace_if_different": False}).encode()
req = json.dumps("Status").encode()
open("corpus/frames/hello-status", "wb").write(struct.pack(">I", len(hello)) + hello + struct.pack(">I", len(req)) + req)
PY
