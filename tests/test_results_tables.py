"""The tables the benchmark suite writes into RESULTS.md, on fixed figures (no benchmark is run)."""
from benchmarks import results_tables as T


def test_markdown_table_has_the_hand_written_form():
    assert T.markdown_table(["a", "b", "c"], [[1, None, ""], ["x", "y", "z"]]) == (
        "| a | b | c |\n|---|---|---|\n| 1 | | |\n| x | y | z |")


def test_accuracy_sets_the_default_method_apart():
    keys = ["method", "threshold", "seen AUC", "unseen AUC", "all AUC", "seen acc", "unseen acc", "val seen AUC",
            "val unseen AUC", "train s", "submit s"]
    rows = [dict(zip(keys, r)) for r in (("lda", .33, .956, .881, .887, .885, .798, .942, .884, 27.1, 5.4),
                                         ("bce", .52, .862, .842, .844, .769, .761, .862, .846, 323.2, 199.7))]
    text = T.accuracy(rows, "imagenet", 2053.4, 5574.2)
    assert "| **lda** | 0.33 | **0.956** | **0.881** | **0.887** | **0.885** | **0.798** | 0.942 | 0.884 |" in text
    assert "| bce (the Siamese pair head of the seed notebook) | 0.52 | 0.862 |" in text
    assert text.startswith("Weights of the default features: `imagenet`.")
    assert text.endswith("All in one process: 2,053 s, peak RSS 5,574 MB.")


def test_speed_tables_carry_their_ratios_and_goals():
    text = T.embed_speed(1000, 4, (1.4, 1.8), "artists", "LiteRT", [("Lite0 224 px, style statistics", 102.4, 92.2,
                                                                     156.1)], ("default features", 40.5, 35.6, 59.6))
    assert "| Lite0 224 px, style statistics | 102.4 img/s | 92.2 img/s (90%) | 156.1 img/s | 1.52x |" in text
    assert "| **default features** | 40.5 img/s | 35.6 img/s | **59.6 img/s** | **1.47x** |" in text
    assert "load 1.4-1.8; backbone weights `artists`" in text
    text = T.cli_latency([1.29, 3.5, 3.6], True, 21.0, 25.04)
    assert "| exports cached | 3.50 s (median; 1.29-3.60), TensorFlow imported | < 3 s: not met |" in text
    assert "| 21.0 s; the background export ends 25.0 s later | < 20 s: not met |" in text
    text = T.cold_run([("clean", 3.9, .1), ("submit", 67.3, 3.67)], 188.4, 3167, 384183,
                      {"all": .8996, "seen": .9595, "unseen": .8943})
    assert "| submit (3,167 test paintings embedded, the model adapted to them, 384,183 pairs scored) |" in text
    assert "| **total** | **188 s** (goal < 300 s: met) | **3.67 GB** (goal < 4 GB: met) |" in text
    assert text.endswith("Test AUC of the run: seen 0.9595, unseen 0.8943, all 0.8996.")


def test_search_tables_mark_painters_default_and_leave_unmeasured_cells_empty():
    build = dict(n=1_000_000, dim=944, lists=4000, trained=156000, chunk=16384, queries=1000, train_s=84.1,
                 fill_s=80.3, bytes=967 * 10**6, peak_mb=3454, start_mb=331, exact_s=49.0)
    text = T.ivf_index(build, [(250, .946, 11.3, 5.2), (500, .964, 21.2, 10.2)], 500)
    assert "| build (train 84.1 s + fill 80.3 s) | 164.4 s |" in text
    assert "| index size | 922 MiB: 967 bytes a painting (float32 would take 3,776) |" in text
    assert "| 250 | 0.946 | 11.3 ms | 5.2 ms |\n| **500 (painter's default: one list in 8)** | **0.964** |" in text
    assert "| **47 (painter's default)** | **0.947** |" in T.ivf_recall_real(14667, 1315, 1000, 376, 0,
                                                                            [(47, .947)], 47)
    m = {"precision@1": .542, "precision@10": None, "map": None}
    text = T.retrieval({"packaged": {"artist": m, "artist seen": m, "artist unseen": m, "style": m}})
    assert "| same | artist, seen / **unseen** | 0.542 / 0.542 | | |" in text
    assert "| flat | | 2.59 ms |" in T.search_latency(10000, 10, [("flat", None, 2.59)])


def test_litert_ceiling_gives_ranges_over_the_rounds():
    text = T.litert_ceiling(640, ["Lite0 224"], {"Lite0 224": [(134.2, 119, .34, 4.3), (139.4, 136, .37, 5.0)]},
                            {"pooled": 169, "style": 162}, {"Lite0 224": {32: (165, 166), 16: (168, 167)}})
    assert "| LiteRT raw (ready batch of 32) | 134-139 img/s |" in text
    assert "| of which decoding / forward pass | 0.34-0.37 s / 4.3-5.0 s |" in text
    assert "| raw, pooled vs style summary | 169 vs 162 img/s (the statistics cost 4%) |" in text
    assert "batches 32 / 16 | 165 / 168 vs 166 / 167 img/s |" in text
