"""KServe's Python model server serving an ONNX model with onnxruntime: the peer in bench/serve.py.

    python kserve_onnx.py NAME MODEL.onnx HTTP_PORT GRPC_PORT
"""

import sys

import numpy as np
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer

DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.int64): "INT64", np.dtype(np.float64): "FP64"}


class OnnxModel(Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.sess = None
        self.load()

    def load(self) -> bool:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(self.path, so, providers=["CPUExecutionProvider"])
        self.ready = True
        return True

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {i.name: i.as_numpy() for i in payload.inputs}
        outs = self.sess.run(None, feeds)
        outputs = []
        for meta, arr in zip(self.sess.get_outputs(), outs):
            o = InferOutput(name=meta.name, shape=list(arr.shape), datatype=DATATYPES[arr.dtype])
            o.set_data_from_numpy(arr, binary_data=False)
            outputs.append(o)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or "")


if __name__ == "__main__":
    name, path, http_port, grpc_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ModelServer(http_port=http_port, grpc_port=grpc_port, workers=1, enable_latency_logging=False).start(
        [OnnxModel(name, path)])
