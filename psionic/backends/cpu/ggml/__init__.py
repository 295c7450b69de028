"""llama.cpp's CPU numerics, reproduced bit for bit (an opt-in mode, ``numerics="llamacpp"``).

The default CPU kernels compute every product in float32 over the decoded
weights, in one fixed, batch-invariant order. These kernels instead perform
the same IEEE operations, in the same order, as ggml's CPU backend (the x86
AVX-512 build that llama-cpp-python compiles with ``-march=native``) for the
formats and ops the GGUF decoders use, so that a forward pass gives the same
bits as llama.cpp's own:

- ``scalar``: float32 fused multiply-add, f16 rounding, ggml's lane-sum trees
  and its vectorised ``expf``/SiLU;
- ``quant``: activations quantized to 8 bits per 32-block (Q8_0 / Q8_1) and
  the integer-block dot products of each weight format;
- ``attention``: f16 K/V/Q, the f16 GEMM (tinyBLAS) or dot (one query) order,
  ggml's softmax with its double-precision sum;
- ``elementwise``: RMS norm (double sum), RoPE (float theta recurrence, libm
  cos/sin), SwiGLU.

Each kernel has a slow, plain-Python reference spelling out ggml's order in
``tests/backends/cpu/ggml``.
"""
