"""Shares of a command's samples, from `perf script` output with call chains
(docs/BENCHMARKS.md, session 17, "Where a served store's time went").

    perf record -o store.data -F 20000 --call-graph dwarf,16384 -- \
        bash -c 'for i in $(seq 100); do baton memory store coding/architecture/system "$DOC"; done'
    perf script -i store.data --comm baton -F comm,ip,sym,dso > store.txt
    python3 docs/measure/perf_shares.py store.txt _dl_start,gated_put,telemetry,load_definitions,Service::resolve

Prints the samples by where they were taken (a page fault, the kernel's system call,
the library), then the share of samples whose call chain holds each name given
(the first that matches, in the order given). A build with symbols is needed:
`CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`.
"""
import sys, collections, re
samples=[]; cur=None
for line in open(sys.argv[1]):
    if not line.strip():
        if cur is not None: samples.append(cur); cur=None
        continue
    if not line.startswith('\t') and not line.startswith(' '):
        cur=[]; continue
    m=re.match(r'\s+[0-9a-f]+ (.*) \((.*)\)$', line.rstrip())
    if m and cur is not None: cur.append((m.group(1), m.group(2)))
if cur: samples.append(cur)
N=len(samples)
cats=collections.Counter(); baton_fns=collections.Counter()
interesting=sys.argv[2].split(',') if len(sys.argv)>2 else []
for s in samples:
    syms=[x[0] for x in s]; dsos=[x[1] for x in s]
    top=s[0] if s else ('?','?')
    k=None
    if any('execve' in x for x in syms): k='kernel: execve'
    elif any(x in ('do_exit','do_group_exit') for x in syms): k='kernel: exit'
    elif top[1]=='[kernel.kallsyms]':
        if any('asm_exc_page_fault'==x for x in syms): k='page fault'
        else:
            sc=[x for x in syms if x.startswith('__x64_sys_') or x.startswith('__do_sys_')]
            k='kernel: '+(sc[0] if sc else syms[-1])
    else:
        k='user: '+top[1].split('/')[-1]
    # attribute to a baton function in the stack
    owner=None
    for f in interesting:
        if any(f in x for x in syms): owner=f; break
    cats[k]+=1
    baton_fns[owner]+=1
print("samples",N)
for k,v in cats.most_common(25): print(f"{100*v/N:6.1f}% {k}")
print()
for k,v in baton_fns.most_common(): print(f"{100*v/N:6.1f}% {k}")
