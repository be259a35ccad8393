"""A loopback file server for the installer and act tests: https with a throwaway self-signed
certificate (the test passes its CA file to curl through CURL_CA_BUNDLE), or plain http.

    serve.py DIR CERT_DIR https|http

Prints the port on stdout once listening. GET /redirect-to-http/PATH answers 302 to the same
file over plain http (a second listener), to prove the installer refuses downgrading redirects.
"""
import http.server
import os
import ssl
import subprocess
import sys
import threading

root, cert_dir, scheme = sys.argv[1], sys.argv[2], sys.argv[3]


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=root, **kw)

    def log_message(self, *a):
        pass

    def do_GET(self):
        prefix = "/redirect-to-http/"
        if self.path.startswith(prefix):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{plain_port}/{self.path[len(prefix):]}")
            self.end_headers()
            return
        super().do_GET()


plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
plain_port = plain.server_address[1]
threading.Thread(target=plain.serve_forever, daemon=True).start()
if scheme == "http":
    print(plain_port, flush=True)
    threading.Event().wait()

key, crt = os.path.join(cert_dir, "key.pem"), os.path.join(cert_dir, "cert.pem")
if not os.path.exists(crt):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", crt],
        check=True, capture_output=True)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
