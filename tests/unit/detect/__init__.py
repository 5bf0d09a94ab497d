"""Tests of cot_proxy.detect."""
