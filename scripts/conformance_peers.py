#!/usr/bin/python3
"""Sends the inputs of issue 16's RFC rules to our server and to the two
reference peers, nginx and Node.js, and prints what each answered, as the
markdown table of docs/hostile.md ("RFC 9110/9112 rules").

  scripts/conformance_peers.py --build build > docs/conformance-peers.md

Run by hand (it starts server-epoll from --build, nginx with the bench's
peer config and scripts/peers/node_hello.js, each on a free loopback port,
and stops them). A cell lists the statuses of every response that came
back before the server closed or went quiet for a second: "400" is one
answer; "200 200" means the bytes were read as two requests ("200 ×2001":
as 2001); "+body" marks
a HEAD answer that carried a body; "(open)" means the server kept the
connection open, waiting for more; "closed" a close without any answer;
"(reset)" a close by RST instead of FIN (the server closed with bytes of
ours unread: on a real network the reset can destroy its answer). Where the
bytes go in parts (the head, then the body of an Expect request), the part
is sent once the server has been quiet for a second, " · " separates what
each part got, and "—" is a part that got nothing. The timeout rows run ours with --header-timeout-ms and
--body-timeout-ms of 2 s and wait up to 4 s of silence; the peers keep
their own timeouts (nginx 60 s, Node.js headersTimeout 10 s, checked every
30 s), so "(open)" there means "not within 4 s".
Bodies go to /echo on our server, to /hello on the peers (both answer 200).
"""
from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from peers.nginx_conf import nginx_argv  # noqa: E402

H = "Host: x\r\n"
CHUNKED = "Transfer-Encoding: chunked\r\n"
NEXT = "GET /hello HTTP/1.1\r\n" + H + "\r\n"

# Our timeouts while this script runs, and how long a timeout row waits.
OUR_TIMEOUT_MS = 2000
TIMEOUT_WAIT_S = 4.0
EXPECT_HEAD = "POST {P} HTTP/1.1\r\n" + H + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"

# (rule, what is sent, the test that checks it here). {P} is the path that
# takes a body. What is sent is one string, or a list of parts sent one
# after the other (each once the server is quiet); a row whose rule names a
# timeout waits longer for the answer.
CASES = [
    ("§2.2 bare CR inside a field line", "GET /hello HTTP/1.1\r\n" + H + "Foo:\rXContent-Length: 26\r\n\r\n" + NEXT,
     "Conformance.BareCrIs400; Errors BareCrBeforeAField"),
    ("§2.2 bare CR starting a line", "GET /hello HTTP/1.1\r\n" + H + "\rXGET /bytes/1 HTTP/1.1\r\n" + H + "\r\n",
     "Conformance.BareCrIs400; Errors BareCrStartingALine"),
    ("§2.2 bare LF line ends", "GET /hello HTTP/1.1\n" + "Host: x\n\n", "Conformance.BareLfIs400; Errors BareLf"),
    ("RFC 9110 §5.5 CTL (0x01) in a field value", "GET /hello HTTP/1.1\r\n" + H + "X: a\x01b\r\n\r\n",
     "Conformance.ControlCharactersInAFieldValueAre400"),
    ("§3.2 tab in the request-target", "GET /hel\tlo HTTP/1.1\r\n" + H + "\r\n",
     "Conformance.InvalidRequestTargetBytesAre400; Errors CtlInTheTarget"),
    ("§3.2 obs-text (0xE9) in the request-target", "GET /h\xe9llo HTTP/1.1\r\n" + H + "\r\n",
     "Conformance.InvalidRequestTargetBytesAre400; Errors ObsTextInTheTarget"),
    ("§3.2 vertical bar in the request-target", "GET /hello|x HTTP/1.1\r\n" + H + "\r\n",
     "Conformance.InvalidRequestTargetBytesAre400"),
    ("RFC 9110 §5.1 field name not a token", "GET /hello HTTP/1.1\r\n" + H + "X(y): 1\r\n\r\n",
     "Conformance.FieldNamesMustBeTokens; Errors FieldNameNotAToken"),
    ("§5.1 whitespace before the colon", "GET /hello HTTP/1.1\r\n" + H + "X-A : 1\r\n\r\n",
     "RequestParser.WhitespaceBeforeTheColonIs400"),
    ("§5.2 obs-fold", "GET /hello HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n", "Conformance.ObsFoldIs400; Errors ObsFold"),
    ("§3.2 HTTP/1.1 without Host", "GET /hello HTTP/1.1\r\n\r\n", "Conformance.HostRules; Errors NoHost"),
    ("§3.2 two Host lines", "GET /hello HTTP/1.1\r\n" + H + "Host: y\r\n\r\n", "Conformance.HostRules; Errors TwoHosts"),
    ("§3.2 `Host: a, b`", "GET /hello HTTP/1.1\r\nHost: a, b\r\n\r\n", "Conformance.HostRules; Errors HostList"),
    ("§3.2 invalid Host `a/b`", "GET /hello HTTP/1.1\r\nHost: a/b\r\n\r\n", "Conformance.HostRules; Errors InvalidHost"),
    ("§7.1 chunked body (accepted)", "POST {P} HTTP/1.1\r\n" + H + CHUNKED + "\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n" + NEXT,
     "Conformance.ChunkedBodiesAreParsed; black-box ChunkedEcho*, curl -T, http.client"),
    ("§7.1 chunk without CRLF after its data", "POST {P} HTTP/1.1\r\n" + H + CHUNKED + "\r\n5\r\nhelloXX0\r\n\r\n",
     "Conformance.MalformedChunksAre400; Errors BadChunk"),
    ("§7.1 chunk size of 17 hex digits (leading zeros)", "POST {P} HTTP/1.1\r\n" + H + CHUNKED + "\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
     "Conformance.ChunkedBounds"),
    ("§7.1 chunk size over 2^64", "POST {P} HTTP/1.1\r\n" + H + CHUNKED + "\r\n10000000000000001\r\nx\r\n0\r\n\r\n",
     "Conformance.ChunkedBounds; malformed flood"),
    ("§7.1.1 2 KiB of chunk extensions", "POST {P} HTTP/1.1\r\n" + H + CHUNKED + "\r\n1;" + "e" * 2048 + "\r\nx\r\n0\r\n\r\n",
     "Conformance.ChunkedBounds"),
    ("§6.1 `gzip, chunked` (unknown coding)", "POST {P} HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
     "Conformance.TransferEncodingOtherThanChunkedLast; Errors UnknownCodingBeforeChunked"),
    ("§6.1 `chunked, gzip` (chunked not last)", "POST {P} HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
     "Conformance.TransferEncodingOtherThanChunkedLast; Errors ChunkedNotLast"),
    ("§6.1 TE.TE `xchunked`", "POST {P} HTTP/1.1\r\n" + H + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + NEXT,
     "Conformance.SmugglingClassicsEndInAnError"),
    ("§6.1 CL.TE: Content-Length and chunked", "POST {P} HTTP/1.1\r\n" + H + "Content-Length: 6\r\n" + CHUNKED + "\r\n0\r\n\r\nG" + NEXT,
     "Conformance.TransferEncodingWithContentLengthOrInHttp10; Errors TransferEncodingAndContentLength"),
    ("§6.1 Transfer-Encoding in HTTP/1.0", "POST {P} HTTP/1.0\r\n" + CHUNKED + "\r\n5\r\nhello\r\n0\r\n\r\n",
     "Conformance.TransferEncodingWithContentLengthOrInHttp10; Errors TransferEncodingInHttp10"),
    ("RFC 9110 §8.6 two equal Content-Length lines", "POST {P} HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
     "Conformance.DuplicateContentLengthIs400; Errors DuplicateContentLength"),
    ("RFC 9110 §8.6 `Content-Length: 5, 5`", "POST {P} HTTP/1.1\r\n" + H + "Content-Length: 5, 5\r\n\r\nhello",
     "Conformance.DuplicateContentLengthIs400"),
    ("RFC 9110 §9.3.2 HEAD: GET's head, no body", "HEAD /hello HTTP/1.1\r\n" + H + "\r\n" + NEXT,
     "Router.HeadIsGetWithoutTheBody; black-box Head*, curl -I"),
    ("§2.2 empty lines before a request", "\r\n\r\nGET /hello HTTP/1.1\r\n" + H + "\r\n",
     "RequestParser.EmptyLinesBeforeARequestAreSkippedButCounted"),
    ("RFC 9110 §10.1.1 `Expect: 100-continue`: the head, then the body", [EXPECT_HEAD, "hello"],
     "SessionTest.ContinueBeforeTheBodyThenTheFinalAnswer; black-box ExpectContinue*, curl -T, "
     "http.client"),
    ("RFC 9110 §10.1.1 Expect, the head decides: 413 (100 MB)",
     ["POST {P} HTTP/1.1\r\n" + H + "Expect: 100-continue\r\nContent-Length: 100000000\r\n\r\n", "hello"],
     "SessionTest.TheFinalStatusAtOnceWhenTheHeadDecidesIt; Conformance.ExpectGetsTheFinalStatusAtOnce*"),
    ("RFC 9110 §10.1.1 Expect, the head decides: 404",
     ["POST /nope HTTP/1.1\r\n" + H + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", "hello"],
     "SessionTest.TheFinalStatusAtOnceWhenTheHeadDecidesIt; Conformance.ExpectGetsTheFinalStatusAtOnce*"),
    ("RFC 9110 §10.1.1 `Expect: foo` (417)", "GET /hello HTTP/1.1\r\n" + H + "Expect: foo\r\n\r\n",
     "SessionTest.UnknownExpectationGets417*; Conformance.UnknownExpectationGets417"),
    ("RFC 9110 §10.1.1 HTTP/1.0 with `Expect: 100-continue` (ignored)",
     ["POST {P} HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", "hello"],
     "SessionTest.Http10ExpectIsIgnored; Conformance.Http10ExpectIsIgnored"),
    ("§9.6 `Connection: close` with requests pipelined behind",
     "GET /hello HTTP/1.1\r\n" + H + "Connection: close\r\n\r\n" + NEXT * 8000,
     "SessionTest.ConnectionCloseWithPipelinedBytesBehindIsGraceful; "
     "Conformance.ConnectionCloseWithPipelinedBytesBehindClosesGracefully"),
    ("§9.6 an error (obs-fold) with requests pipelined behind",
     "GET /hello HTTP/1.1\r\n" + H + "X-A: a\r\n b\r\n\r\n" + NEXT * 8000,
     "Errors StatusThenClose (every case)"),
    ("header timeout restarted per request (a complete request, then half a head)",
     NEXT + "GET /hello HTTP/1.1\r\n",
     "SessionTest.HeaderDeadlineRestartsForEachPipelinedRequest; HeaderTimeout.*"),
    ("body timeout (5 of 1000 body bytes, then nothing)",
     "POST {P} HTTP/1.1\r\n" + H + "Content-Length: 1000\r\n\r\nhello",
     "SessionTest.Body*; BodyTimeout.*"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def statuses_in(got: bytes, head_request: bool) -> list[str]:
    """The status of every response in got, in order."""
    statuses = []
    pos = 0
    while (m := re.compile(rb"HTTP/1\.[01] (\d{3})").search(got, pos)):
        statuses.append(m.group(1).decode())
        head_end = got.find(b"\r\n\r\n", m.end())
        if head_end < 0:
            break
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", got[m.start():head_end + 2])
        body = int(length.group(1)) if length else 0
        if head_request and len(statuses) == 1:
            if got[head_end + 4:head_end + 4 + 5].startswith(b"HTTP/") or head_end + 4 == len(got):
                body = 0
            else:
                statuses[-1] += "+body"
        pos = head_end + 4 + body
    return statuses


def runs(statuses: list[str]) -> str:
    """The statuses, a run of three or more of one shown once with its count."""
    out: list[str] = []
    i = 0
    while i < len(statuses):
        j = i
        while j < len(statuses) and statuses[j] == statuses[i]:
            j += 1
        out += [f"{statuses[i]} ×{j - i}"] if j - i >= 3 else statuses[i:j]
        i = j
    return " ".join(out)


def exchange(port: int, parts: list[bytes], head_request: bool, quiet_s: float) -> str:
    """Sends each part once the server has been quiet for quiet_s (or has
    closed), reads until close or quiet_s of silence; the statuses seen."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(quiet_s)
    seen = []
    closed = ""  # "", "closed" (FIN) or "reset" (RST)
    for data in parts:
        if closed:
            break  # the rest is never sent: the server has closed
        try:
            s.sendall(data)
        except OSError:
            pass
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = "reset"
                break
            except OSError:
                closed = "closed"
                break
            if not chunk:
                closed = "closed"
                break
            got += chunk
        statuses = statuses_in(got, head_request)
        # "—": nothing came back for this part, and the connection is open.
        seen.append(runs(statuses) if statuses else "closed" if closed else "—")
    s.close()
    cell = " · ".join(seen)
    if cell == "—":
        return "(no answer)"
    if closed == "reset":
        cell += " (reset)"
    elif not closed:
        cell += " (open)"
    return cell


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="build folder with servers/epoll/server-epoll")
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--node", default="/usr/bin/node")
    args = ap.parse_args()

    ours_bin = Path(args.build) / "servers/epoll/server-epoll"
    for path in (ours_bin, Path(args.nginx), Path(args.node)):
        if not path.exists():
            print(f"conformance_peers.py: {path} not found", file=sys.stderr)
            return 2
    run_dir = Path(tempfile.mkdtemp(prefix="conformance-peers-"))
    servers = {}
    procs = []
    try:
        port = free_port()
        procs.append(subprocess.Popen([str(ours_bin), "--port", str(port),
                                       "--header-timeout-ms", str(OUR_TIMEOUT_MS),
                                       "--body-timeout-ms", str(OUR_TIMEOUT_MS)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers["ours (server-epoll)"] = (port, "/echo")
        port = free_port()
        procs.append(subprocess.Popen(nginx_argv(port, run_dir / "nginx", args.nginx),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers["nginx " + subprocess.run([args.nginx, "-v"], capture_output=True, text=True)
                .stderr.strip().split("/")[-1]] = (port, "/hello")
        port = free_port()
        procs.append(subprocess.Popen([args.node, str(ROOT / "scripts/peers/node_hello.js"), str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers["Node.js " + subprocess.run([args.node, "--version"], capture_output=True, text=True)
                .stdout.strip()] = (port, "/hello")
        for port, _ in servers.values():
            wait_listening(port)

        print("| rule (RFC 9112 unless said) | checked by | " + " | ".join(servers) + " |")
        print("|---|---|" + "---|" * len(servers))
        for rule, sent, test in CASES:
            texts = [sent] if isinstance(sent, str) else sent
            quiet = TIMEOUT_WAIT_S if "timeout" in rule else 1.0
            cells = []
            for port, body_path in servers.values():
                parts = [t.replace("{P}", body_path).encode("latin-1") for t in texts]
                cells.append(exchange(port, parts, texts[0].startswith("HEAD"), quiet))
            print(f"| {rule} | {test} | " + " | ".join(cells) + " |", flush=True)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
