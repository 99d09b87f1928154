"""Train a NotaGen-architecture model: pre-training, then prompt fine-tuning.

    python -m training.train --data work_data/corpus --out runs/default --max-minutes 90
    python -m training.train --data work_data/corpus --out runs/default --resume   # go on
    torchrun --nproc-per-node 4 -m training.train --data ... --out ...            # several GPUs

Checkpoints (`OUT/last.pth`, `OUT/best.pth`) have NotaGen's layout ({'model', 'optimizer',
'lr_sched', 'epoch', 'best_epoch', 'min_eval_loss'} plus this trainer's own 'progress'), so
`notabridge export OUT/best.pth BUNDLE` serves them like a released NotaGen checkpoint.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from notabridge.onnx_export.checkpoint import describe
from notabridge.onnx_export.model import ModelSizes, NotaGenModel, count_parameters

from . import contrast
from .data import PHASES, PieceCache, collate, epoch_batches, evaluation_batches, read_jsonl
from .objective import NotaGenObjective


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="corpus directory with train.jsonl and validation.jsonl")
    p.add_argument("--out", required=True, help="run directory for checkpoints and the log")
    size = p.add_argument_group("model size (ignored with --resume / --init: read from the checkpoint)")
    size.add_argument("--hidden", type=int, default=256, help="hidden size, a multiple of 64")
    size.add_argument("--patch-layers", type=int, default=4)
    size.add_argument("--char-layers", type=int, default=2)
    size.add_argument("--patch-length", type=int, default=512, help="context in patches")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--phases", default="pretrain,finetune", help="comma-separated, in order")
    opt.add_argument("--lr", type=float, default=5e-4, help="pre-training learning rate")
    opt.add_argument("--finetune-lr", type=float, default=1e-4)
    opt.add_argument("--warmup-steps", type=int, default=200)
    opt.add_argument("--weight-decay", type=float, default=0.01)
    opt.add_argument("--decay", choices=("none", "cosine"), default="none",
                     help="after warm-up: constant (NotaGen's schedule) or a cosine down to --min-lr-ratio "
                          "over the phase's share of --max-minutes")
    opt.add_argument("--min-lr-ratio", type=float, default=0.1, help="the cosine's end, as a share of the phase's lr")
    opt.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0 = off)")
    opt.add_argument("--batch-patches", type=int, default=2048,
                     help="patches per batch and process, padding included")
    opt.add_argument("--char-patches", type=int, default=0,
                     help="train the char decoder on this many random patches per batch (0 = all)")
    opt.add_argument("--contrast-weight", type=float, default=0.0,
                     help="prompt fine-tuning: weight of the margin loss that makes pieces naming competing "
                          "prompts unlikelier under those (training.contrast; 0 = off)")
    opt.add_argument("--contrast-margin", type=float, default=0.05, help="the margin, in nats per character")
    budget = p.add_argument_group("budget (all phases together; counts across --resume)")
    budget.add_argument("--max-minutes", type=float, default=0, help="training wall time (0 = no limit)")
    budget.add_argument("--finetune-share", type=float, default=0.25,
                        help="share of --max-minutes given to prompt fine-tuning")
    budget.add_argument("--pretrain-epochs", type=float, default=1000)
    budget.add_argument("--finetune-epochs", type=float, default=1000)
    budget.add_argument("--max-steps", type=int, default=0, help="optimizer steps in all (0 = no limit)")
    run = p.add_argument_group("run")
    run.add_argument("--resume", action="store_true", help="continue from OUT/last.pth")
    run.add_argument("--init", help="start from these weights (a NotaGen-layout .pth), fresh optimizer")
    run.add_argument("--eval-minutes", type=float, default=10)
    run.add_argument("--patience", type=int, default=0,
                     help="end a phase after this many validations without a better loss (0 = never)")
    run.add_argument("--checkpoint-minutes", type=float, default=5)
    run.add_argument("--eval-max-pieces", type=int, default=0, help="score only this many validation pieces (0 = all)")
    run.add_argument("--threads", type=int, default=2, help="CPU threads per process")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


# ---------------------------------------------------------------- distributed helpers

class Dist:
    """torch.distributed when launched by torchrun (WORLD_SIZE > 1), a no-op otherwise."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda":
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batches: list) -> list:
        """This rank's share; every rank gets the same number of steps."""
        usable = len(batches) // self.world * self.world
        return batches[self.rank:usable:self.world]

    def sum(self, *values: float) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            torch.distributed.all_reduce(t)
        return t.tolist()

    def decide(self, *flags: bool) -> list[bool]:
        """Rank 0's flags, on every rank."""
        if self.world == 1:
            return list(flags)
        t = torch.tensor([int(f) for f in flags], device=self.device)
        torch.distributed.broadcast(t, 0)
        return [bool(v) for v in t.tolist()]

    def close(self) -> None:
        if self.world > 1:
            # wait for rank 0's last checkpoint write: a rank that tears gloo down while its peer
            # is still busy can abort ("terminate called without an active exception")
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path: Path, model: NotaGenModel, optimizer, scheduler, progress: dict) -> None:
    """NotaGen's layout plus 'progress' (plain numbers and strings: loads with weights_only)."""
    blob = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "lr_sched": scheduler.state_dict(), "epoch": progress["epoch"],
            "best_epoch": progress["best_epoch"], "min_eval_loss": progress["min_eval_loss"],
            "progress": dict(progress)}
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind


def time_decay(kind: str, elapsed_s: float, budget_s: float, min_ratio: float) -> float:
    """The share of the phase's learning rate left after elapsed_s of a budget_s phase.

    The budget is wall time (a CPU run cannot know its step count in advance), so the
    cosine runs over time; a phase without a time budget is not decayed."""
    if kind == "none" or not math.isfinite(budget_s) or budget_s <= 0:
        return 1.0
    done = min(1.0, max(0.0, elapsed_s / budget_s))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * done))


def make_optimizer(model: NotaGenModel, lr: float, weight_decay: float, warmup: int):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    # linear warm-up, then constant (NotaGen's schedule)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)))
    return optimizer, scheduler


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(objective: NotaGenObjective, batches: list, dist: Dist) -> tuple[float, float]:
    """Mean loss in nats per character over this rank's share, summed over ranks; and chars."""
    objective.eval()
    total, count = 0.0, 0.0
    for batch in dist.shard(batches) if dist.world > 1 else batches:
        patches, lengths = collate(batch)
        loss, n = objective(torch.from_numpy(patches).to(dist.device), torch.from_numpy(lengths).to(dist.device))
        total += float(loss)
        count += float(n)
    objective.train()
    total, count = dist.sum(total, count)
    return total / max(count, 1.0), count


# ---------------------------------------------------------------- main loop

def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.resume:
        _restore_arguments(args, parser)
    torch.set_num_threads(args.threads)
    dist = Dist(args.device)
    out = Path(args.out)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    log = Logger(out / "train.log" if dist.main else None)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or any(p not in PHASES for p in phases):
        sys.exit(f"--phases: choose from {', '.join(PHASES)} (got {args.phases!r})")
    if args.contrast_weight and dist.world > 1:
        sys.exit("--contrast-weight runs in one process (its second forward is outside DistributedDataParallel)")

    train_pieces = read_jsonl(Path(args.data) / "train.jsonl")
    val_pieces = read_jsonl(Path(args.data) / "validation.jsonl")
    if args.eval_max_pieces:
        val_pieces = val_pieces[: args.eval_max_pieces]
    train_cache, val_cache = PieceCache(train_pieces), PieceCache(val_pieces)

    resume_blob = None
    if args.resume:
        last = out / "last.pth"
        if not last.is_file():
            sys.exit(f"--resume: {last} does not exist (start without --resume)")
        resume_blob = torch.load(last, map_location="cpu", weights_only=True)
    init_state = None
    if resume_blob is not None:
        init_state = resume_blob["model"]
    elif args.init:
        from notabridge.onnx_export.checkpoint import read_state_dict
        init_state = read_state_dict(args.init)

    if init_state is not None:
        from notabridge.onnx_export.checkpoint import infer_sizes
        sizes = infer_sizes(init_state)
    else:
        sizes = ModelSizes(args.hidden, args.patch_layers, args.char_layers, args.patch_length)
    torch.manual_seed(args.seed)
    model = NotaGenModel(sizes)
    if init_state is not None:
        model.load_state_dict(init_state, strict=True)
    model.to(dist.device).train()
    # NotaGen's patch decoder keeps a token-embedding row it never reads (inputs are patch
    # embeddings); freeze it so DDP does not wait for a gradient that never comes
    model.patch_level_decoder.base.wte.weight.requires_grad_(False)
    objective = NotaGenObjective(model, args.char_patches)
    runner = objective
    if dist.world > 1:
        runner = torch.nn.parallel.DistributedDataParallel(
            objective, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)

    progress = {"phase": phases[0], "epoch": 0, "batch": 0, "step": 0, "phase_step": 0,
                "elapsed": 0.0, "phase_elapsed": 0.0, "min_eval_loss": float("inf"), "stale_evals": 0,
                "best_epoch": 0, "chars": 0.0}
    if resume_blob is not None:
        progress.update(resume_blob.get("progress", {}))
    progress["arguments"] = {k: v for k, v in vars(args).items() if k not in ("resume", "init")}
    log(f"model: {describe(sizes)}, {count_parameters(model.state_dict()):,} parameters; "
        f"{len(train_pieces)} training / {len(val_pieces)} validation pieces; "
        f"device {dist.device}, {dist.world} process(es)")

    phase_index = phases.index(progress["phase"]) if progress["phase"] in phases else 0
    while phase_index < len(phases):
        phase = phases[phase_index]
        progress["phase"] = phase
        lr = args.lr if phase == "pretrain" else args.finetune_lr
        optimizer, scheduler = make_optimizer(model, lr, args.weight_decay, args.warmup_steps)
        if resume_blob is not None and resume_blob.get("progress", {}).get("phase") == phase:
            optimizer.load_state_dict(resume_blob["optimizer"])
            scheduler.load_state_dict(resume_blob["lr_sched"])
            log(f"resumed {phase} at epoch {progress['epoch']}, batch {progress['batch']}, step {progress['step']}")
        resume_blob = None
        try:
            done = _run_phase(args, phase, phases, objective, runner, model, optimizer, scheduler,
                              train_cache, val_cache, progress, dist, out, log)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep the work done so far for --resume
            if dist.main:
                save_checkpoint(out / "last.pth", model, optimizer, scheduler, progress)
            log(f"stopped at step {progress['step']}; saved {out / 'last.pth'} (continue with --resume)")
            dist.close()
            return 130
        if not done:  # budget or step limit reached inside the phase
            break
        phase_index += 1
        if phase_index < len(phases):
            progress.update(phase=phases[phase_index], epoch=0, batch=0, phase_step=0, phase_elapsed=0.0,
                            min_eval_loss=float("inf"), best_epoch=0, stale_evals=0)
    log(f"finished: step {progress['step']}, {progress['elapsed'] / 60:.1f} min of training, "
        f"best validation loss of the last phase {progress['min_eval_loss']:.4f} nats/char")
    dist.close()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _restore_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """On --resume, options left at their defaults take the values the run was started with."""
    last = Path(args.out) / "last.pth"
    if not last.is_file():
        return
    saved = torch.load(last, map_location="cpu", weights_only=True).get("progress", {}).get("arguments", {})
    for key, value in saved.items():
        if hasattr(args, key) and getattr(args, key) == parser.get_default(key):
            setattr(args, key, value)


def _phase_minutes(args, phase: str, phases: list[str]) -> float:
    if not args.max_minutes:
        return math.inf
    if len(phases) == 1:
        return args.max_minutes
    share = args.finetune_share if phase == "finetune" else 1 - args.finetune_share
    return args.max_minutes * share


def _run_phase(args, phase, phases, objective, runner, model, optimizer, scheduler,
               train_cache, val_cache, progress, dist, out, log) -> bool:
    """Train one phase until its epochs or minutes are spent. True when the phase is over,
    False when the whole run has to stop (step limit)."""
    budget_s = _phase_minutes(args, phase, phases) * 60
    max_epochs = args.pretrain_epochs if phase == "pretrain" else args.finetune_epochs
    eval_batches = evaluation_batches(val_cache, phase, model.sizes.patch_length, args.batch_patches)
    margin_on = phase == "finetune" and args.contrast_weight > 0
    train_contrast = contrast.ContrastSampler(train_cache.pieces, model.sizes.patch_length) if margin_on else None
    val_contrast = contrast.ContrastSampler(val_cache.pieces, model.sizes.patch_length) if margin_on else None
    contrast_rng = np.random.default_rng(args.seed * 100003 + progress["step"])
    last_eval = last_ckpt = time.monotonic()
    tick = time.monotonic()
    bar = _progress_bar(args, dist, phase)

    def account() -> None:
        nonlocal tick
        now = time.monotonic()
        progress["elapsed"] += now - tick
        progress["phase_elapsed"] += now - tick
        tick = now

    def run_eval() -> None:
        loss, chars = evaluate(objective, eval_batches, dist)
        improved = loss < progress["min_eval_loss"]
        if improved:
            progress["min_eval_loss"], progress["best_epoch"] = loss, progress["epoch"]
        progress["stale_evals"] = 0 if improved else progress.get("stale_evals", 0) + 1
        log(f"[{phase}] step {progress['step']} epoch {progress['epoch'] + progress['batch_frac']:.2f}: "
            f"validation {loss:.4f} nats/char = {loss / math.log(2):.4f} bits/char over {int(chars)} chars, "
            f"lr {optimizer.param_groups[0]['lr']:.2e}"
            + (" (best)" if improved else "")
            + ("; own prompt first on {} of {} held-out pieces' first bars".format(
                *contrast.own_prompt_first(objective, val_contrast, dist.device)) if val_contrast else ""))
        if dist.main:
            save_checkpoint(out / "last.pth", model, optimizer, scheduler, progress)
            if improved:
                save_checkpoint(out / "best.pth", model, optimizer, scheduler, progress)

    progress.setdefault("batch_frac", 0.0)
    while progress["epoch"] < max_epochs:
        batches = dist.shard(epoch_batches(train_cache, phase, model.sizes.patch_length,
                                           args.batch_patches, args.seed * 100003 + progress["epoch"]))
        epoch_fraction = max_epochs - progress["epoch"]  # fractional epoch caps
        stop_at = len(batches) if epoch_fraction >= 1 else int(len(batches) * epoch_fraction)
        while progress["batch"] < stop_at:
            patches, lengths = collate(batches[progress["batch"]])
            loss_sum, n = runner(torch.from_numpy(patches).to(dist.device), torch.from_numpy(lengths).to(dist.device))
            loss = loss_sum / n.clamp(min=1)
            if train_contrast:
                differences = contrast.margin_terms(objective, *train_contrast.sample(contrast_rng), dist.device)
                loss = loss + args.contrast_weight * contrast.hinge(differences, args.contrast_margin)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            scheduler.step()
            progress["batch"] += 1
            progress["step"] += 1
            progress["phase_step"] += 1
            progress["chars"] += float(n)
            progress["batch_frac"] = progress["batch"] / max(1, len(batches))
            account()
            decay = time_decay(args.decay, progress["phase_elapsed"], budget_s, args.min_lr_ratio)
            for group, base in zip(optimizer.param_groups, scheduler.base_lrs):  # the next step's rate
                group["lr"] = base * scheduler.lr_lambdas[0](scheduler.last_epoch) * decay
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}", epoch=f"{progress['epoch'] + progress['batch_frac']:.2f}",
                                refresh=False)
            now = time.monotonic()
            # decided on rank 0 and shared, so that every rank evaluates and stops together
            out_of_time, out_of_steps, do_eval, do_ckpt = dist.decide(
                progress["phase_elapsed"] >= budget_s,
                bool(args.max_steps) and progress["step"] >= args.max_steps,
                now - last_eval >= args.eval_minutes * 60,
                now - last_ckpt >= args.checkpoint_minutes * 60)
            if out_of_time or out_of_steps or do_eval:
                run_eval()
                tick = last_eval = last_ckpt = time.monotonic()  # evaluation time is not training time
                if args.patience and progress["stale_evals"] >= args.patience and not out_of_steps:
                    log(f"[{phase}] no better validation in {args.patience} checks: the phase ends here")
                    _close(bar)
                    return True
            elif do_ckpt:
                if dist.main:
                    save_checkpoint(out / "last.pth", model, optimizer, scheduler, progress)
                last_ckpt = tick = time.monotonic()
            if out_of_steps:
                _close(bar)
                return False
            if out_of_time:
                _close(bar)
                return True
        progress["epoch"] += 1
        progress["batch"] = 0
        progress["batch_frac"] = 0.0
        if stop_at < len(batches):
            break
    run_eval()
    _close(bar)
    return True


def _progress_bar(args, dist: Dist, phase: str):
    if args.quiet or not dist.main:
        return None
    from tqdm import tqdm
    interactive = sys.stderr.isatty()
    return tqdm(desc=phase, unit="step", mininterval=1 if interactive else 60, dynamic_ncols=True,
                initial=0, file=sys.stderr)


def _close(bar) -> None:
    if bar is not None:
        bar.close()


class Logger:
    """Prints on the main process and appends to OUT/train.log."""

    def __init__(self, path: Path | None):
        self.path = path
        self.start = time.strftime("%Y-%m-%d %H:%M:%S")

    def __call__(self, message: str) -> None:
        if self.path is None:
            return
        line = f"{time.strftime('%H:%M:%S')} {message}"
        print(line, flush=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
