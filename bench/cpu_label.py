"""The CPU as every figure in bench/RESULTS.md names it: model, AVX-512 yes/no, bf16 native yes/no (Linux's lscpu)."""
import re
import subprocess


def cpu_label():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"^Model name:\s*(.+)$", out, re.M)
    flags = set((re.search(r"^Flags:\s*(.+)$", out, re.M) or re.search("()", "")).group(1).split())
    avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags
    bf16 = bool({"avx512_bf16", "amx_bf16"} & flags)
    return (f"{model.group(1).strip() if model else 'unknown CPU'} (AVX-512: {'yes' if avx512 else 'no'}, "
            f"bf16 native: {'yes' if bf16 else 'no'})")


if __name__ == "__main__":
    print(cpu_label())
