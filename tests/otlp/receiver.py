"""A small OTLP/HTTP receiver for the end-to-end tests.

Listens on 127.0.0.1 (an ephemeral port, printed on the first line of stdout as
`listening PORT`) and decodes each body with the official protobuf definitions
(`opentelemetry-proto`):

- `POST /v1/traces`: every span is appended to the file given as the first argument,
  one JSON object a line: trace and span ids in hex, the parent's, the name, the kind,
  the attributes, and the resource's `service.name`;
- `POST /v1/metrics`: every data point is appended to the same file with `.metrics`
  added to its name: the metric's name, its kind (sum, gauge, histogram), the point's
  attributes and its value (a histogram's count and sum).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OUT = sys.argv[1]
METRICS_OUT = OUT + ".metrics"
LOCK = Lock()


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    if kind is None:
        return None
    return getattr(v, kind)


def attributes(kvs):
    return {kv.key: value(kv.value) for kv in kvs}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/metrics":
            self.metrics(body)
            return
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(
                        json.dumps(
                            {
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "name": span.name,
                                "kind": span.kind,
                                "status": span.status.code,
                                "start": span.start_time_unix_nano,
                                "end": span.end_time_unix_nano,
                                "attributes": attributes(span.attributes),
                                "service": resource.get("service.name"),
                            }
                        )
                    )
        with LOCK, open(OUT, "a", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        self.reply(ExportTraceServiceResponse().SerializeToString())

    def metrics(self, body):
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        lines = []
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    for point in getattr(metric, kind).data_points:
                        line = {
                            "name": metric.name,
                            "kind": kind,
                            "unit": metric.unit,
                            "attributes": attributes(point.attributes),
                        }
                        if kind == "histogram":
                            line["count"] = point.count
                            line["sum"] = point.sum
                        else:
                            line["value"] = getattr(point, point.WhichOneof("value"))
                        lines.append(json.dumps(line))
        with LOCK, open(METRICS_OUT, "a", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        self.reply(ExportMetricsServiceResponse().SerializeToString())

    def reply(self, reply):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
