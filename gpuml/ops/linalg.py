"""matmul placeholder (kernels pending)."""


def matmul(a, b):
    raise NotImplementedError
