# The command of session 25's fourth device call (an H100, the checkout at ea600b67ebb6), verbatim:
# every entry of the persistent Gluon forward's list (TUNE_TABLE["fwd_wsp"]) forced in turn, three
# rounds, the order reversed every other round; output: entries.txt beside this file.
export PYTHONPATH=$PWD/kernels:$PWD/src SIGATTN_WS=persistent SIGATTN_SIGMOID=bf16x2; python3 - <<'PY' 2>&1 | tee $OUT/entries.txt
import torch, triton, sigattn
from sigattn import triton_kernels as tk
print(torch.cuda.get_device_name(), "commit ea600b67ebb6 (+ this inline timing); do_bench 100/250 ms, median [p20,p80]; 3 rounds alternated")
rows = []
for hd, L, pad in [(64, 1024, 0), (64, 16384, 0), (128, 1024, 1), (128, 2048, 1), (128, 4096, 0), (128, 4096, 1), (128, 16384, 1)]:
    B, H = 16384 // L, 1024 // hd
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, L, H, hd, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    n = int(L * 0.75) if pad else L
    sl = torch.full((B,), n, device="cuda", dtype=torch.int32) if pad else None
    flops = 4 * B * H * hd * n * n
    for rnd in range(3):
        entries = tk.TUNE_TABLE["fwd_wsp"][hd]
        for e in (entries if rnd % 2 == 0 else entries[::-1]):
            tk.FORCED_CONFIGS["fwd_wsp"] = e
            def f():
                with sigattn.trusted_lengths():
                    return sigattn.sigmoid_attention(q, k, v, seq_lens_q=sl, seq_lens_k=sl)
            f(); torch.cuda.synchronize()
            c = tk.LAST_CONFIG["forward"]
            assert c["kernel"] == "fwd_wsp" and tuple(c["config"]) == e, c
            ms = triton.testing.do_bench(f, warmup=100, rep=250, quantiles=[0.5, 0.2, 0.8])
            print(f"hd{hd} L{L} {'padded' if pad else 'dense'} {e} round{rnd}: {flops / ms[0] / 1e9:.0f} TFLOPS [{flops / ms[2] / 1e9:.0f}, {flops / ms[1] / 1e9:.0f}]", flush=True)
PY
