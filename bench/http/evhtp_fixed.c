/* The HTTP layer alone: libevhtp (Debian) answering every request with a
 * fixed JSON body, for bench/http_libraries.py.
 *
 *   bench_http_evhtp PORT THREADS */
#include <evhtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char* g_body = "{}";

static void on_request(evhtp_request_t* req, void* arg) {
  (void)arg;
  evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", "application/json", 0, 0));
  evbuffer_add(req->buffer_out, g_body, strlen(g_body));
  evhtp_send_reply(req, EVHTP_RES_OK);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: bench_http_evhtp PORT THREADS\n");
    return 2;
  }
  if (getenv("TP_FIXED_BODY")) g_body = getenv("TP_FIXED_BODY");
  struct event_base* base = event_base_new();
  evhtp_t* htp = evhtp_new(base, NULL);
  evhtp_set_gencb(htp, on_request, NULL);
  evhtp_use_threads_wexit(htp, NULL, NULL, atoi(argv[2]), NULL);
  if (evhtp_bind_socket(htp, "127.0.0.1", (uint16_t)atoi(argv[1]), 1024) != 0) {
    fprintf(stderr, "cannot listen on port %s\n", argv[1]);
    return 1;
  }
  event_base_loop(base, 0);
  return 0;
}
