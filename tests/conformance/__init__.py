"""Wire-conformance tests: our generated protos against the descriptors the SDK wheels ship."""
