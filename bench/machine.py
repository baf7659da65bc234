"""The machine a benchmark ran on, for the reports: CPUs, CPU model, RAM, kernel."""

import os

GIB = 1 << 30


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return (f"{os.cpu_count()} CPUs ({model}), {mem / GIB:.0f} GiB RAM, "
            f"Linux {os.uname().release}")
