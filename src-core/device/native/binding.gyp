{
  "targets": [
    {
      "target_name": "direct_io",
      "sources": ["direct_io.c", "crc32c.c", "readahead.c", "lock.c"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lpthread"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
