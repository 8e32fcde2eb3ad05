"""A stand-in engine worker (test double) that dies on SIGSEGV when its first request arrives, like llama.cpp's
AMX kernel did: it reads one request line, writes a line of 'log' to stderr, then kills itself."""

import os
import signal
import sys

line = sys.stdin.buffer.readline()
sys.stderr.write("ggml_backend_amx_mul_mat: (stub) about to crash\n")
sys.stderr.flush()
os.kill(os.getpid(), signal.SIGSEGV)
