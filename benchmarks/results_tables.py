"""The Markdown of the RESULTS.md sections that the suite scripts own, from the figures they measure.

One function per section, apart from the measuring, so that its form can be checked on fixed
figures without running a benchmark (``tests/test_results_tables.py``); a script prints what its
function returns and, with ``--write``, puts it in RESULTS.md (``shared_data.write_results``).
Nothing here imports painter or the other benchmark modules.
"""
import statistics

CLI_GOALS = (3, 20)   # seconds: predict-pair with the exports cached, and with nothing cached
COLD_RUN_GOALS = (300, 4.0)   # seconds and GB: the whole cold run


def markdown_table(header, rows) -> str:
    """RESULTS.md's table form: ``| a | b |`` lines under ``|---|---|``; None or "" is an empty cell."""
    def line(cells):
        return "|" + "|".join(" " if c is None or c == "" else f" {c} " for c in cells) + "|"
    return "\n".join([line(header), "|" + "---|" * len(header), *map(line, rows)])


def _bold(text, yes=True) -> str:
    return f"**{text}**" if yes else text


def _span(values, fmt) -> str:
    """``lo-hi`` of ``values`` formatted, one figure when they agree."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def _met(yes) -> str:
    return "met" if yes else "not met"


def accuracy(rows, weights, seconds, peak_mb, default="lda") -> str:
    """``benchmarks/accuracy.py``: one row per method (``rows``: dicts of the column names); the
    default method's test figures stand out."""
    labels = {"bce": "bce (the Siamese pair head of the seed notebook)"}
    test = ["seen AUC", "unseen AUC", "all AUC", "seen acc", "unseen acc"]
    header = ["method", "threshold", *test, "val seen AUC", "val unseen AUC", "train s", "submit s"]
    lines = []
    for r in rows:
        mine = r["method"] == default
        lines.append([_bold(labels.get(r["method"], r["method"]), mine), f"{r['threshold']:.2f}",
                      *(_bold(f"{r[k]:.3f}", mine) for k in test), f"{r['val seen AUC']:.3f}",
                      f"{r['val unseen AUC']:.3f}", f"{r['train s']:.1f}", f"{r['submit s']:.1f}"])
    return (f"Weights of the default features: `{weights}`.\n\n{markdown_table(header, lines)}\n\n"
            f"All in one process: {seconds:,.0f} s, peak RSS {peak_mb:,.0f} MB.")


def pair_scoring(images, dim, chunk, runs) -> str:
    """``benchmarks/pair_scoring.py``; ``runs``: ``(layout, pairs, pairs per second, peak RSS MB)``,
    layout ``"kaggle-grouped"`` or ``"random"``."""
    what = {"kaggle-grouped": "in Kaggle's layout (all pairs within 13 groups)",
            "random": "uniformly random pairs (row gathering)"}
    rows = [[f"{n:,} {what[layout]}", f"{rate / 1e6:.2f} M pairs/s", f"{peak:,.0f} MB"]
            for layout, n, rate, peak in runs]
    return (f"{images:,} cached embeddings of {dim} values, chunks of {chunk / 1e6:g} M pairs.\n\n"
            + markdown_table(["pairs", "throughput", "peak RSS"], rows))


def embed_speed(n, rounds, load, weights, runtime, rows, default=None) -> str:
    """``benchmarks/embed_speed.py``; ``rows``: ``(model, Keras raw, Keras end to end, exported end
    to end)`` in img/s; ``default``: the same for the default features (both models on every
    painting), or None; ``load``: the machine's load average at the start and the end."""
    header = ["model", "Keras raw", "Keras end to end", f"{runtime} end to end", f"{runtime} end to end / Keras raw"]
    lines = [[label, f"{raw:.1f} img/s", f"{keras:.1f} img/s ({keras / raw:.0%})", f"{exported:.1f} img/s",
              f"{exported / raw:.2f}x"] for label, raw, keras, exported in rows]
    if default is not None:
        label, raw, keras, exported = default
        lines.append([_bold(label), f"{raw:.1f} img/s", f"{keras:.1f} img/s", _bold(f"{exported:.1f} img/s"),
                      _bold(f"{exported / raw:.2f}x")])
    return (f"{n:,} pbn_dev paintings, decoding included, batch 32, cache off; raw = the same Keras model on "
            f"ready tensors of the batch's shape; {rounds} interleaved rounds; load {_span(load, '.1f')}; "
            f"backbone weights `{weights}`.\n\n" + markdown_table(header, lines))


def embed_profile(n, model, runtime, rounds) -> str:
    """``benchmarks/embed_profile.py``; ``rounds``: ``(seconds waiting for decoded batches, seconds
    of the whole extract_features call)`` per round."""
    rows = [[k, f"{wait:.2f} s", f"{whole:.2f} s", f"{wait / whole:.1%}"] for k, (wait, whole) in enumerate(rounds, 1)]
    return (f"{n:,} pbn_dev paintings, {model}, runner: {runtime}.\n\n"
            + markdown_table(["round", "waiting for decoded batches", "`extract_features`", "share"], rows))


def embed_memory(model, n, batch, peaks) -> str:
    """``benchmarks/embed_memory.py``; ``peaks``: ``{"compiled": MB, "eager": MB}``."""
    calls = {"compiled": "compiled (`predict_on_batch`)", "eager": "eager (`model(x)`)"}
    rows = [[calls[k], f"{mb:,.0f} MB"] for k, mb in peaks.items()]
    return (f"Embedding {n:,} pbn_dev paintings with {model} (Keras), batch {batch}, each call in its own "
            "process.\n\n" + markdown_table(["call", "peak RSS"], rows))


def cli_latency(warm, tensorflow, cold, export_after) -> str:
    """``benchmarks/cli_latency.py``: ``warm``, the seconds of each run with the exports cached
    (``tensorflow``: whether such a run imports TensorFlow); ``cold``, the first run's; the
    background export's end, ``export_after`` seconds after it."""
    median = statistics.median(warm)
    rows = [["exports cached", f"{median:.2f} s (median; {_span(warm, '.2f')}), "
             f"{'TensorFlow imported' if tensorflow else 'no TensorFlow imported'}",
             f"< {CLI_GOALS[0]} s: {_met(median < CLI_GOALS[0])}"],
            ["nothing cached (first run after install): Keras answers, a background process exports the models",
             f"{cold:.1f} s; the background export ends {export_after:.1f} s later",
             f"< {CLI_GOALS[1]} s: {_met(cold < CLI_GOALS[1])}"]]
    return f"{len(warm)} runs with the exports cached.\n\n" + markdown_table(["case", "wall time", "goal"], rows)


def classification(summaries) -> str:
    """``benchmarks/classify_search.py``: ``summaries``, ``train_classifier``'s per target."""
    rows = []
    for s in summaries:
        left_out = s["excluded"]["unlabelled"]
        rows.append([s["target"], f"{s['n_classes']}" + (f" ({left_out:,} unlabelled left out)" if left_out else ""),
                     f"{s['n_test']:,}", f"{s['top1']:.3f} / {s['top5']:.3f} / {s['weighted_f1']:.3f}"])
    return markdown_table(["target", "classes", "test images", "default features: top-1 / top-5 / weighted F1"], rows)


def retrieval(indexes) -> str:
    """``benchmarks/classify_search.py``: ``indexes``, ``{index: {queries: retrieval_metrics}}``
    with the queries ``"artist"``, ``"artist seen"``, ``"artist unseen"`` and ``"style"``; a
    metric left out (None) is an empty cell."""
    keys = ("precision@1", "precision@10", "map")

    def cells(*ms):
        return [" / ".join(f"{m[k]:.3f}" for m in ms) if all(m.get(k) is not None for m in ms) else None
                for k in keys]
    rows = []
    for name, m in indexes.items():
        rows += [[name, "artist, all", *cells(m["artist"])],
                 ["same", "artist, seen / **unseen**", *cells(m["artist seen"], m["artist unseen"])],
                 ["same", "style", *cells(m["style"])]]
    return markdown_table(["index", "label / queries", "P@1", "P@10", "mAP"], rows)


def search_latency(n, k, rows) -> str:
    """``benchmarks/classify_search.py``; ``rows``: ``(index, build seconds or None, ms a query)``."""
    names = {"flat": "flat", "hnsw": "HNSW", "ivf": "IVF"}
    lines = [[names[kind], None if build is None else f"{build:.2f} s", f"{ms:.2f} ms"] for kind, build, ms in rows]
    return (f"{n:,} paintings (the index's vectors and noisy copies of them), k = {k}.\n\n"
            + markdown_table(["index", "build", "per query"], lines))


def cold_run(steps, total, test_paintings, pairs, auc) -> str:
    """``benchmarks/cold_run.sh``: ``steps``, ``(step, wall seconds, peak RSS GB)`` for clean, train,
    submit and score; ``total``: wall seconds of the whole; ``auc``: ``painter score``'s per pair kind."""
    label = {"submit": f"submit ({test_paintings:,} test paintings embedded, the model adapted to them, "
                       f"{pairs:,} pairs scored)"}
    peak = max(gb for _, _, gb in steps)
    rows = [[label.get(step, step), f"{wall:.1f} s", f"{gb:.2f} GB"] for step, wall, gb in steps]
    rows.append(["**total**", f"**{total:.0f} s** (goal < {COLD_RUN_GOALS[0]} s: {_met(total < COLD_RUN_GOALS[0])})",
                 f"**{peak:.2f} GB** (goal < {COLD_RUN_GOALS[1]:.0f} GB: {_met(peak < COLD_RUN_GOALS[1])})"])
    return (markdown_table(["step", "wall", "peak RSS"], rows) + "\n\nTest AUC of the run: "
            + ", ".join(f"{kind} {auc[kind]:.4f}" for kind in ("seen", "unseen", "all") if kind in auc) + ".")


def ivf_index(build, probes, default) -> str:
    """``benchmarks/ivf_index.py``: ``build``, a dict of ``n, dim, lists, trained, chunk, queries,
    train_s, fill_s, bytes, peak_mb, start_mb, exact_s``; ``probes``, ``(nprobe, recall@10, ms of
    one query (median), ms a query in a batch)``; ``default``: painter's nprobe."""
    b = build
    figures = [[f"build (train {b['train_s']:.1f} s + fill {b['fill_s']:.1f} s)",
                f"{b['train_s'] + b['fill_s']:.1f} s"],
               ["index size", f"{b['bytes'] / 2**20:,.0f} MiB: {b['bytes'] / b['n']:,.0f} bytes a painting "
                f"(float32 would take {4 * b['dim']:,})"],
               ["peak memory", f"{b['peak_mb']:,.0f} MB ({b['start_mb']:,.0f} MB before the build)"],
               [f"exact search, {b['queries']:,} queries", f"{b['exact_s']:.1f} s"]]
    rows = [[_bold(f"{nprobe} (painter's default: one list in {b['lists'] // nprobe})" if nprobe == default
                   else nprobe, nprobe == default), _bold(f"{recall:.3f}", nprobe == default), f"{one:.1f} ms",
             f"{batch:.1f} ms"] for nprobe, recall, one, batch in probes]
    return (f"{b['n']:,} synthetic embeddings of width {b['dim']} in artist clusters; IVF, {b['lists']:,} lists, "
            f"8-bit scalar quantisation, trained on {b['trained']:,} of them, filled in chunks of {b['chunk']:,}; "
            f"recall@10 against exact search over all {b['n']:,} for {b['queries']:,} queries.\n\n"
            + markdown_table(["figure", "value"], figures) + "\n\n"
            + markdown_table(["lists probed", "recall@10", "one query (median)", f"in a batch of {b['queries']:,}"],
                             rows))


def ivf_recall_real(n, dim, queries, lists, unreadable, probes, default) -> str:
    """``benchmarks/ivf_recall_real.py``; ``probes``: ``(nprobe, recall@10)``; ``default``: painter's nprobe."""
    rows = [[_bold(f"{nprobe} (painter's default)" if nprobe == default else nprobe, nprobe == default),
             _bold(f"{recall:.3f}", nprobe == default)] for nprobe, recall in probes]
    return (f"{n:,} real embeddings in the index (width {dim:,}), {queries:,} others as queries, {lists} lists"
            + (f"; {unreadable} unreadable paintings left out" if unreadable else "") + ".\n\n"
            + markdown_table(["lists probed", "recall@10"], rows))


def cluster_throughput(n, what, task, cores, rates) -> str:
    """``benchmarks/cluster_throughput.py``; ``rates``: paintings/s by runner, ``"this process"``
    or ``"N worker(s)"``."""
    first = rates.get("1 worker")
    label = {"this process": "this process alone (no cluster, all cores)"}
    rows = [[label.get(k, k), f"{r:.1f}", f"{r / first:.2f}x" if first else None] for k, r in rates.items()]
    return (f"{n:,} paintings ({what}), {task} paintings a task, {cores} cores.\n\n"
            + markdown_table(["runner", "paintings/s", "against 1 worker"], rows))


def litert_ceiling(n, models, rounds, summaries, threads) -> str:
    """``benchmarks/litert_ceiling.py``: ``models``, the column names; ``rounds[model]``, per round
    ``(raw img/s, end-to-end img/s, decoding s, forward s)``; ``summaries``: raw img/s of the first
    model ``{"pooled": ., "style": .}``; ``threads[model]``: ``{batch: (one interpreter x 2 threads,
    two x 1 thread)}`` in img/s."""
    def per_model(k, fmt):
        return [_span([r[k] for r in rounds[m]], fmt) for m in models]
    batches = list(next(iter(threads.values())))
    pooled, style = summaries["pooled"], summaries["style"]
    rows = [["LiteRT raw (ready batch of 32)", *(f"{s} img/s" for s in per_model(0, ".0f"))],
            [f"LiteRT end to end, {n} paintings", *(f"{s} img/s" for s in per_model(1, ".0f"))],
            ["of which decoding / forward pass", *(f"{d} s / {f} s" for d, f in zip(per_model(2, ".2f"),
                                                                                  per_model(3, ".1f")))],
            ["raw, pooled vs style summary", f"{pooled:.0f} vs {style:.0f} img/s (the statistics cost "
             f"{1 - style / pooled:.0%})", *[None] * (len(models) - 1)],
            [f"one interpreter × 2 threads vs two × 1 thread, batches {' / '.join(map(str, batches))}",
             *(" / ".join(f"{threads[m][b][0]:.0f}" for b in batches) + " vs "
               + " / ".join(f"{threads[m][b][1]:.0f}" for b in batches) + " img/s" for m in models)]]
    return (f"{len(next(iter(rounds.values())))} rounds, ranges over them.\n\n"
            + markdown_table(["measurement", *models], rows))
