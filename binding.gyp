{
  # CMakeLists.txt is the single description of the native build. node-gyp (and so prebuildify and the
  # node-gyp-build install fallback) only runs CMake through cmake-js and collects the addon it produced.
  "targets": [
    {
      "target_name": "alpamayo_trt",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["<(PRODUCT_DIR)/alpamayo_trt.node"],
          "action": ["node", "<(module_root_dir)/scripts/build-native.mjs", "--out", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
