"""Write DataCleaning.ipynb and ProjectCode.ipynb (cells call package functions only).

Run: python tools/make_notebooks.py
"""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell


def save(name, cells):
    for k, cell in enumerate(cells):
        cell.id = f"cell-{k:02d}"   # stable ids: regenerating gives no spurious diff
    nb = nbf.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbf.write(nb, name)


save("DataCleaning.ipynb", [
    md("# Painter by Numbers: data cleaning\n\nFrom the Kaggle archives to clean, labelled RGB JPEGs. "
       "Every step is a `painter` function; `painter clean KAGGLE_DIR --out DATA_DIR` does the same headless."),
    code("# Parameters (environment variables override them, e.g. in CI)\n"
         "import os\n"
         "from pathlib import Path\n"
         "KAGGLE_DIR = Path(os.environ.get('PAINTER_KAGGLE_DIR', '../shared/data/pbn_dev'))  # train_*.zip, test.zip, all_data_info.csv\n"
         "DATA_DIR = Path(os.environ.get('PAINTER_DATA_DIR', 'data'))\n"
         "SIZE = int(os.environ.get('PAINTER_SIZE', 256))  # output side in pixels (never enlarged)\n"
         "# e.g. 1536: also keep each painting at its own resolution, long side capped, for features with views\n"
         "# (about 33 GB more for the real competition's 103,250 paintings); None: the squares alone\n"
         "DETAIL = int(os.environ['PAINTER_DETAIL']) if os.environ.get('PAINTER_DETAIL') else None\n"
         "PLOTS = DATA_DIR / 'plots'"),
    code("import painter\n"
         "from painter.data.cleaning import clean_kaggle, summarize_report\n"
         "from painter.data.synthetic import make_synthetic_kaggle\n"
         "from painter.plots import plot_samples_per_artist, plot_counts\n"
         "from IPython.display import Image, display\n"
         "if not (KAGGLE_DIR / 'all_data_info.csv').is_file():\n"
         "    print(f'{KAGGLE_DIR} has no Kaggle data: using a synthetic competition instead')\n"
         "    KAGGLE_DIR = make_synthetic_kaggle(DATA_DIR.parent / 'synthetic_kaggle')"),
    md("## Clean\nImages are read from the archives, repaired from the replacements archive, converted to RGB "
       "(CMYK, grayscale, PNG-behind-.jpg, EXIF rotation, huge images) and written at `SIZE`. With `DETAIL`, each "
       "painting is also kept at its own resolution (long side at most `DETAIL` px) in `DATA_DIR/detail/`, which "
       "features with views read (`FeatureSpec(views=...)`, `painter train --views`); the report's `detail` column "
       "lists the copies. A second run skips finished files."),
    code("report = clean_kaggle(KAGGLE_DIR, DATA_DIR, size=SIZE, detail=DETAIL)\n"
         "print(summarize_report(report))\n"
         "report['status'].value_counts()"),
    md("## Labels: the seed's helpers"),
    code("train = painter.readdatainfo(DATA_DIR / 'all_data_info.csv', images_dir=DATA_DIR / 'train', in_train=True)\n"
         "test = painter.readdatainfo(DATA_DIR / 'all_data_info.csv', images_dir=DATA_DIR / 'test', in_train=False)\n"
         "print(f'train: {len(train)} artists, {train.n_images} paintings; test: {len(test)} artists, {test.n_images} paintings')\n"
         "print('missing from disk:', train.missing + test.missing)"),
    code("display(Image(filename=str(plot_counts(train, PLOTS / 'paintings_per_artist.png', top=40))))"),
    code("display(Image(filename=str(plot_samples_per_artist(train, DATA_DIR / 'train', PLOTS / 'samples.png'))))"),
])

save("ProjectCode.ipynb", [
    md("# Same artist or not? A Siamese approach to Painter by Numbers\n\n"
       "Run `DataCleaning.ipynb` first. Every cell calls `painter`; the `painter` command does the same headless."),
    code("# Parameters (environment variables override them, e.g. in CI)\n"
         "import os\n"
         "from pathlib import Path\n"
         "DATA_DIR = Path(os.environ.get('PAINTER_DATA_DIR', 'data'))\n"
         "MODEL_DIR = Path(os.environ.get('PAINTER_MODEL_DIR', 'models_1/notebook'))\n"
         "METHOD = os.environ.get('PAINTER_METHOD', 'lda')           # lda | cosface | bce | contrastive | triplet\n"
         "BACKBONE = os.environ.get('PAINTER_BACKBONE', 'efficientnet_lite0+efficientnet_lite1')  # or 'resnet50' with internet\n"
         "WEIGHTS = os.environ.get('PAINTER_WEIGHTS')   # None: 'artists' (tuned to tell artists apart) for Lite0/Lite1, else 'imagenet'\n"
         "IMAGE_SIZE = int(os.environ['PAINTER_IMAGE_SIZE']) if 'PAINTER_IMAGE_SIZE' in os.environ else None\n"
         "# the seed project's Siamese network fitted end to end: 'full' run, 'short' CPU check, 'auto' = full with a GPU\n"
         "SIAMESE_FIT = os.environ.get('PAINTER_SIAMESE_FIT', 'auto')\n"
         "PLOTS = MODEL_DIR / 'plots'\n"
         "import logging\n"
         "logging.basicConfig(format='%(message)s')\n"
         "logging.getLogger('painter').setLevel(logging.INFO)   # painter's summaries (trained, wrote...), as the CLI shows them"),
    code("import numpy as np\n"
         "import painter\n"
         "from painter.quiet import import_tensorflow_quietly\n"
         "import_tensorflow_quietly()   # TensorFlow's C++ start-up lines stay out of the notebook\n"
         "from painter.features import default_spec\n"
         "from painter.same_artist.training import train\n"
         "from painter import metrics, plots\n"
         "from IPython.display import Image, display"),
    md("## Data: balanced, split, paired (the seed project's helpers)"),
    code("d = painter.readdatainfo(DATA_DIR / 'all_data_info.csv', images_dir=DATA_DIR / 'train', in_train=True)\n"
         "balanced = painter.reducedictrandom(d, n=min(len(v) for v in d.values()), seed=0)\n"
         "tr, va, te = painter.splitdict(balanced, test=0.2, val=0.2, by='artist', seed=0)\n"
         "print(f'{len(d)} artists; balanced {len(balanced)} x {len(next(iter(balanced.values())))}; '\n"
         "      f'artist-disjoint split {len(tr)}/{len(va)}/{len(te)}')\n"
         "(a, b), y = next(iter(painter.datagenerator(tr, DATA_DIR / 'train', batch_size=8, image_size=96)))\n"
         "print('one batch:', a.shape, b.shape, 'labels', y.numpy())"),
    md("## The seed project's Siamese network, fitted end to end\n"
       "Shared backbone, |A−B|, GlobalMaxPooling2D, Dropout, sigmoid, binary cross-entropy (`method='siamese'`; "
       "`loss='contrastive'` or `'triplet'` for the seed projects' metric losses). Fresh random balanced pairs every epoch, random "
       "crops and flips (none at evaluation), the head first with the backbone frozen, then the top stages "
       "(`trainable_from`) at a lower learning rate with BatchNorm in inference mode; early stopping on the "
       "validation pairs' ROC AUC. On a CPU the frozen lower stages' maps of a few crops per painting are cached once. "
       "Without a GPU this cell runs a short check (64 px, a few steps); `SIAMESE_FIT = 'full'` runs the real fit."),
    code("import tensorflow as tf\n"
         "full = SIAMESE_FIT == 'full' or (SIAMESE_FIT == 'auto' and bool(tf.config.list_logical_devices('GPU')))\n"
         "short = dict(image_size=64, epochs_head=1, epochs_finetune=1, pairs_per_epoch=256, crops_per_image=2)\n"
         "SIAMESE_DIR = MODEL_DIR.parent / 'siamese'\n"
         "siamese = train(DATA_DIR, SIAMESE_DIR, method='siamese', progress=False, **({} if full else short))\n"
         "display(Image(filename=str(plots.plot_history(SIAMESE_DIR / 'history.csv', SIAMESE_DIR / 'plots' / 'history.png'))))\n"
         "sv = np.load(SIAMESE_DIR / 'validation_pairs.npz', allow_pickle=False)\n"
         "print(metrics.pair_metrics(sv['same'], sv['p'], sv['kind'], threshold=siamese.threshold))\n"
         "display(Image(filename=str(plots.plot_roc(sv['same'], sv['p'], sv['kind'], SIAMESE_DIR / 'plots' / 'roc.png'))))"),
    md("## Train (early stopping on validation AUC; held-out artists give the unseen-artist figures)"),
    code("SPEC = default_spec(BACKBONE, IMAGE_SIZE, weights=WEIGHTS or None)   # the best weights painter has for BACKBONE\n"
         "model = train(DATA_DIR, MODEL_DIR, method=METHOD, spec=SPEC)\n"
         "model.info['validation']"),
    md("## Evaluation: seen and unseen artists apart"),
    code("v = np.load(MODEL_DIR / 'validation_pairs.npz', allow_pickle=False)\n"
         "print(metrics.pair_metrics(v['same'], v['p'], v['kind'], threshold=model.threshold))\n"
         "display(Image(filename=str(plots.plot_roc(v['same'], v['p'], v['kind'], PLOTS / 'roc.png'))))\n"
         "display(Image(filename=str(plots.plot_confusion(v['same'], v['p'], model.threshold, PLOTS / 'confusion.png'))))\n"
         "if (MODEL_DIR / 'history.csv').is_file():\n"
         "    display(Image(filename=str(plots.plot_history(MODEL_DIR / 'history.csv', PLOTS / 'history.png'))))"),
    code("paths = v['paths']\n"
         "pick = np.random.default_rng(0).choice(len(v['i']), 8, replace=False)\n"
         "grid = plots.plot_pair_grid(paths[v['i'][pick]], paths[v['j'][pick]], v['same'][pick], v['p'][pick],\n"
         "                            PLOTS / 'pairs.png', threshold=model.threshold)\n"
         "display(Image(filename=str(grid)))"),
    md("## Artist, style and genre classification\n"
       "A classifier on the cached backbone features per target, with class weights and early stopping; "
       "`head='cnn_rnn'` reads the backbone's feature map as a sequence with a GRU instead. "
       "`painter classify train DATA_DIR --target style` does the same headless."),
    code("import pandas as pd\n"
         "from painter.classify import train_classifier\n"
         "CLASSIFY_DIR = MODEL_DIR.parent / 'classifiers'\n"
         "summaries = {t: train_classifier(DATA_DIR, CLASSIFY_DIR / t, target=t, spec=SPEC,\n"
         "                                 progress=False) for t in ('artist', 'style', 'genre')}\n"
         "pd.DataFrame({t: {k: s[k] for k in ('n_classes', 'n_test', 'top1', 'top5', 'weighted_f1')} | \n"
         "              {'unlabelled_excluded': s['excluded']['unlabelled']} for t, s in summaries.items()}).T"),
    code("print(summaries['style']['report_text'])\n"
         "display(Image(filename=str(CLASSIFY_DIR / 'style' / 'confusion.png')))"),
    md("**Outliers**: the paintings whose labelled style gets the lowest probability relative to the predicted one."),
    code("display(pd.read_csv(CLASSIFY_DIR / 'style' / 'outliers.csv').head(10))\n"
         "display(Image(filename=str(CLASSIFY_DIR / 'style' / 'outliers.png')))"),
    md("## Similar paintings (FAISS)\n"
       "Every painting embedded (frozen backbone style statistics) and indexed: exact inner product, or "
       "`index_type='hnsw'` / `'ivf'` for large collections. `embedding=MODEL_DIR` indexes with the trained "
       "same-artist model instead: better for artists it was trained on, worse for unknown ones (see the metrics "
       "below and `benchmarks/RESULTS.md`). `painter index` / `painter similar` do the same headless."),
    code("from painter.metrics import retrieval_metrics\n"
         "from painter.search import build_index_from_data\n"
         "index = build_index_from_data(DATA_DIR, MODEL_DIR.parent / 'index', embedding='backbone', spec=SPEC,\n"
         "                              progress=False)\n"
         "query = index.metadata['file'][0]\n"
         "table = index.query_file(query, k=6)\n"
         "display(table)\n"
         "display(Image(filename=str(index.plot_neighbours(query, table, PLOTS / 'neighbours.png'))))"),
    md("Retrieval quality, the query itself excluded: artist queries of training artists (seen) and of "
       "test-only artists (unseen) apart, and style."),
    code("seen = index.metadata['artist_in_train'].to_numpy() == 'True'\n"
         "rows = {'artist, seen artists': retrieval_metrics(index.vectors, index.metadata['artist'], queries=seen),\n"
         "        'artist, unseen artists': retrieval_metrics(index.vectors, index.metadata['artist'], queries=~seen),\n"
         "        'style': retrieval_metrics(index.vectors, index.metadata['style'])}\n"
         "pd.DataFrame(rows).T.round(3)"),
    md("## Who painted it? Attribution against a reference collection\n"
       "Every reference painting (here the training paintings; any folder per artist works) is embedded once "
       "and cached; the questioned painting is scored against them, per artist, into calibrated probabilities "
       "that include *none of the reference artists*. The evidence is each candidate's closest paintings. "
       "The calibration shipped with painter was chosen on splits of pbn_dev's training paintings for the "
       "default model (`benchmarks/recipes/attribution.py`, which also fits one for "
       "another model). Needs a model with the dot scorer (every method but `bce`). "
       "`painter attribute IMAGE --reference DIR` does the same headless."),
    code("from painter.attribution import plot_attribution\n"
         "test_images = sorted((DATA_DIR / 'test').glob('*.jpg'))\n"
         "table = painter.attribute(test_images[0], DATA_DIR, model=MODEL_DIR, k=3)\n"
         "print(f\"answer: {table.attrs['answer']} (P(none) = {table.attrs['p_none']:.2f}); \"\n"
         "      f\"{len(table.attrs['skipped'])} reference paintings skipped\")\n"
         "display(table)\n"
         "display(Image(filename=str(plot_attribution(table, PLOTS / 'attribution.png'))))"),
    md("## Which regions make two paintings look alike? Occlusion maps\n"
       "Each patch of one painting is masked in turn (the other kept whole) and the drop of the pair's score is "
       "drawn where the patch was: red regions support *same artist*. The model reads global colour and texture "
       "statistics, so the maps show the passages whose statistics the two paintings share, not a recognised "
       "motif (see `painter.explain`). `painter explain A B --png out.png` does the same headless."),
    code("from painter.explain import plot_explanation\n"
         "expl = painter.explain_pair(test_images[0], test_images[1], model=MODEL_DIR, grid=5)\n"
         "print(f'P(same artist) = {expl.probability:.3f}; maps {expl.map_a.shape} and {expl.map_b.shape}')\n"
         "display(Image(filename=str(plot_explanation(expl, PLOTS / 'explanation.png'))))"),
    md("## How does the model do on a labelled collection?\n"
       "`painter.evaluate` scores every pair of a folder per artist (here the training paintings): ROC AUC, the "
       "verdict's balanced accuracy, the share of same-artist pairs called *same* and of different-artist pairs "
       "called *different*, per artist too. `context='self'` first adapts the model to the collection's own "
       "paintings, as `predict_pair(..., context=FOLDER)` does: give it for paintings from another source than "
       "WikiArt (museum photographs, scans). `painter evaluate FOLDER --context self --out DIR` does the same headless."),
    code("result = painter.evaluate(DATA_DIR, model=MODEL_DIR, context='self', progress=False)\n"
         "display(result.table())\n"
         "display(result.artists.head(10))\n"
         "display(Image(filename=str(result.save(PLOTS / 'evaluation') / 'scores.png')))"),
    md("## Is it the same painter?\n"
       "With `context`, the paintings of the collection the two come from (unlabelled), the answer is adapted to "
       "their source."),
    code("test_images = sorted((DATA_DIR / 'test').glob('*.jpg'))\n"
         "p = painter.predict_pair(test_images[0], test_images[1], model=MODEL_DIR)\n"
         "p_context = painter.predict_pair(test_images[0], test_images[1], model=MODEL_DIR, context=DATA_DIR / 'test')\n"
         "print(f'{test_images[0].name} vs {test_images[1].name}: P(same artist) = {p:.3f} '\n"
         "      f'({p_context:.3f} with the test paintings as context)')"),
])
