"""`studio batch`: long renders on Ray (an optional extra: `pip install -e '.[distributed]'`).

An animation recipe, a seed sweep or an evaluation is cut into chunks of whole local
batches; Ray actors (`worker.BatchWorker`), each holding the model once, render them;
`pool.WorkerPool` hands chunks out, retries a dead worker's chunks on another, and gives
the results back in order, so the driver (`jobs`) encodes or writes them as they arrive.

Only `cli` may be imported without Ray installed: it says how to install it.
"""

INSTALL_HINT = ("studio batch runs on Ray, an optional extra that is not installed: "
                "pip install 'latent-studio[distributed]' (in a checkout: "
                "pip install -e '.[distributed]')")
