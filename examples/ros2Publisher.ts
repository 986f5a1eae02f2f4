// ROS 2-style publisher: plans on a timer and publishes nav_msgs/Path (via toNavPath, the rclnodejs
// message shape: plain objects with header/poses). rclnodejs is optional: without it (or without a
// sourced ROS 2 install) the message is printed instead.
// Run from the repo: CHECKPOINT=.cache/tiny node --import=@tapjs/typescript/import examples/ros2Publisher.ts [count]
import { Planner, toNavPath } from '../lib/index.js';
import type { RosPath } from '../lib/index.js';
import { curvedEgoHistory, syntheticFrames } from '../lib/cli/syntheticScene.js';

type Publish = (msg: RosPath) => void;

async function rosPublisher(): Promise<{ publish: Publish; close: () => void } | undefined> {
  let rclnodejs: any;
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const name = 'rclnodejs';
    rclnodejs = (await import(name)).default;
    await rclnodejs.init();
  } catch (err) {
    console.log(`rclnodejs unavailable (${(err as Error).message.split('\n')[0]}); printing messages instead`);
    return undefined;
  }
  const node = rclnodejs.createNode('alpamayo_planner');
  const pub = node.createPublisher('nav_msgs/msg/Path', 'planned_path');
  rclnodejs.spin(node);
  return { publish: (msg) => pub.publish(msg), close: () => rclnodejs.shutdown() };
}

async function main(): Promise<void> {
  const checkpoint = process.env.CHECKPOINT;
  if (!checkpoint) throw new Error('set CHECKPOINT to a checkpoint directory');
  const count = Number(process.argv[2] ?? 3);
  const ros = await rosPublisher();
  await using planner = await Planner.load({ checkpoint, backend: 'auto' });
  for (let i = 0; i < count; i++) {
    // Replace with your camera and odometry subscriptions: 4 frames per camera, 16 poses at 10 Hz.
    const t0Us = Date.now() * 1000;
    const result = await planner.plan(syntheticFrames(t0Us, 64, 64), curvedEgoHistory(t0Us), { maxReasoningTokens: 16, seed: i });
    const msg = toNavPath(result, 'base_link');
    if (ros) ros.publish(msg);
    else {
      const last = msg.poses[msg.poses.length - 1]!.pose.position;
      console.log(JSON.stringify({ header: msg.header, poses: msg.poses.length, first: msg.poses[0], lastPosition: last }));
    }
  }
  ros?.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
