"""The project's metadata is in pyproject.toml; this adds the C Avro reader, which is optional:
without a C compiler the install goes on and records are read by generated Python code."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("consumer._avro_native", ["consumer/_avro_native.c"],
                             extra_compile_args=["-O2"], optional=True)])
