{
  # CMakeLists.txt is the single description of the native build. node-gyp (driven by prebuildify in
  # `npm run prebuild`, or by hand with `npx node-gyp rebuild`) only runs CMake through cmake-js and
  # collects the addon it produced. `npm install` does not go through node-gyp: scripts/install.mjs picks
  # a prebuild or calls scripts/build-native.mjs directly (node-gyp would download Node headers; cmake-js
  # builds N-API addons from the node-api-headers package, offline).
  "targets": [
    {
      "target_name": "alpamayo_trt",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["<(PRODUCT_DIR)/alpamayo_trt.node"],
          "action": ["node", "<(module_root_dir)/scripts/build-native.mjs", "--addon-only", "--temp", "--out", "<(PRODUCT_DIR)"]
        }
      ]
    }
  ]
}
