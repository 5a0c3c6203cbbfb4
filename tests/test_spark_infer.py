"""course_utils.spark_infer (saved from notebook 11): a local, loopback, UI-less session; Spark inference
equals one process and loads the model once per Python worker. (TorchDistributor is notebook 11's own cell.)

Slow (Spark's JVM and Python workers start in tens of seconds on a busy 2-core machine): ``-m "not slow"``
skips it; ``make test`` (CI) runs it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")  # predict_batch_udf is a pandas UDF: Arrow carries the batches

from course_utils import infer, spark_infer  # noqa: E402
from course_utils.models import Net  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    session = spark_infer.get_spark(2, app_name="test_spark_infer")
    yield session
    session.stop()


def test_session_is_local_loopback_without_ui(spark):
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert spark.sparkContext.uiWebUrl is None  # no web UI is serving
    assert conf.get("spark.driver.host") == "127.0.0.1"


def test_predict_batch_udf_equals_single_process_and_loads_once_per_worker(spark, tmp_path):
    torch.manual_seed(0)
    net = Net().eval()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    x = torch.randn(1001, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    ref = infer.predict_local(net, x).numpy()
    log = tmp_path / "loads.txt"
    udf = spark_infer.torch_predict_udf(tmp_path / "net.pt", Net, batch_size=100, load_log=log)
    out = spark_infer.spark_predict(spark, udf, x.numpy(), partitions=2)
    assert out.shape == (1001, 10)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out.argmax(1), ref.argmax(1))
    pids = [int(pid) for pid in log.read_text().split()]
    # 1001 rows in batches of 100 = 11+ batches, but each Python worker built the model only once
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)
