"""``finescale models plan ID``: what a model needs on this device and the strategy that fits.

One line per component in GB, the total, the strategy, the device; exit 0 when the plan fits
(in ``--memory`` GB, else in this device's free memory), 1 with one sentence when nothing does.
"""

from __future__ import annotations

import argparse

from engine.runtime.cancel import UserFacingError

GB = 1e9


def add_plan_parser(actions) -> None:
    plan = actions.add_parser("plan", help="memory a model needs here, and how it will run")
    plan.add_argument("model_id")
    plan.add_argument("--memory", type=float, metavar="GB", help="plan for this much free memory")
    plan.add_argument("--resolution", type=int, metavar="PX", help="image side (default: model's)")
    plan.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, mps or auto (default: auto)"
    )
    plan.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), help="default: bf16 on a GPU")
    plan.add_argument(
        "--kv-budget", type=float, metavar="SHARE",
        help="keep this share of the large scales' KV cache (ScaleKV-style; changes the image)",
    )  # fmt: skip
    plan.set_defaults(handler=_plan)


def _device(args: argparse.Namespace):
    from engine.planning.planner import DeviceMemory, device_memory
    from engine.runtime.devices import resolve_device

    if args.memory is None:
        return device_memory(resolve_device(args.device))
    if args.memory <= 0:
        raise UserFacingError("--memory must be a positive number of GB.")
    name = args.device.lower()
    if name == "auto":
        import torch

        name = "cuda" if torch.cuda.is_available() else "cpu"
    kind = "cuda" if name.startswith("cuda") else name
    if kind not in ("cuda", "cpu", "mps"):
        raise UserFacingError(
            f"Unknown device '{args.device}': use cpu, cuda, cuda:N, mps or auto."
        )
    return DeviceMemory(kind, f"{kind} with {args.memory:.2f} GB free", int(args.memory * GB))


def format_plan(plan, dtype: str) -> list[str]:
    """The lines the command prints (also what the tests read)."""
    usable = "" if plan.available is None else f", {plan.available / GB:.2f} GB usable"
    lines = [f"{plan.model} at {plan.resolution} px, {dtype}, on {plan.device}{usable}"]
    lines += [f"  {name:<14}{size / GB:>7.2f} GB" for name, size in plan.components]
    lines.append(f"  {'total':<14}{plan.total / GB:>7.2f} GB")
    lines.append(f"strategy: {plan.method()}")
    return lines


def _plan(args: argparse.Namespace) -> None:
    from engine.planning.planner import choose, run_dtype
    from engine.planning.shapes import shape_named
    from engine.store.catalogue import get_model

    spec = get_model(args.model_id)
    shape = shape_named(spec.shape or spec.id)
    default = spec.resolution if spec.resolution in shape.resolutions else None
    resolution = shape.check_resolution(args.resolution or default)
    if args.kv_budget is not None and not 0 < args.kv_budget <= 1:
        raise UserFacingError("--kv-budget is a share between 0 and 1, e.g. 0.1.")
    device = _device(args)
    dtype = run_dtype(device.kind, args.dtype)
    plan = choose(shape, spec.id, resolution, device, dtype, args.kv_budget)
    print("\n".join(format_plan(plan, dtype)))
    if not plan.fits:
        hint = "" if args.kv_budget else ", or a KV budget (--kv-budget 0.1)"
        raise UserFacingError(
            f"Nothing fits: {spec.id} needs at least {plan.total / GB:.2f} GB at {resolution} px "
            f"but {plan.available / GB:.2f} GB are usable; try a smaller resolution{hint}."
        )
