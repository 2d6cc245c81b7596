"""Session 26 diagnostic (device machine): the dQ kernels alone at hd128 (rows_k=0 launches no dK/dV
kernel), the Triton dQ kernel (the default's hd128 backward, its tuned-table config) against each
entry of the Gluon dQ kernel forced, do_bench 100/250 ms; NaN count and max difference of each from
the Triton dQ. Prints one CSV row a (L, kernel, entry). Usage: python gpu/dq_kernels_diag.py COMMIT"""

import sys

import torch
import triton
from sigattn import gluon_kernels as gk
from sigattn import triton_kernels as tk


def point(L: int, B: int, commit: str, H: int = 16, D: int = 128) -> None:
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v, do = (torch.randn(B, L, H, D, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(4))
    table = torch.tensor([[0] * B, [L] * B, [0] * B, [L] * B], dtype=torch.int32, device="cuda")
    scale = D ** -0.5
    dq_ref, dq = torch.empty_like(q), torch.empty_like(q)
    flops = 3 * 2 * B * H * L * L * D
    launches = {"dq": lambda: tk.backward(do, q, k, v, table, None, causal=False, scale=scale, bias=None, padded=True,
                                          rows_q=L, rows_k=0, dq=dq_ref, dk=k, dv=v),
                "dq_ws": lambda: gk.backward_dq(do, q, k, v, table, scale=scale, bias=None, padded=True, rows_q=L,
                                                dq=dq)}
    for name, entry in [("dq", None), *(("dq_ws", e) for e in tk.TUNE_TABLE["dq_ws"][128])]:
        tk.FORCED_CONFIGS.clear()
        if entry:
            tk.FORCED_CONFIGS["dq_ws"] = entry
        ms = triton.testing.do_bench(launches[name], warmup=100, rep=250)
        launches[name]()
        torch.cuda.synchronize()
        out = dq if entry else dq_ref
        diff = (out.float() - dq_ref.float()).nan_to_num(float("inf")).abs().max().item()
        print(f"{L},{B},{name},{'x'.join(map(str, entry)) if entry else 'table'},{ms:.4f},{flops / ms / 1e9:.1f},"
              f"{int(out.isnan().sum())},{diff:.4g},{dq_ref.float().abs().max().item():.4g},"
              f"{torch.cuda.get_device_name()},{commit}", flush=True)
    tk.FORCED_CONFIGS.clear()


if __name__ == "__main__":
    tk.select_variant("fast")
    print("L,batch,kernel,entry,ms,tflops,nan,max_abs_diff,ref_max,device,commit", flush=True)
    for L, B in ((1024, 16), (16384, 1)):
        point(L, B, sys.argv[1])
