// Run by tests/detector_test.ts with read access to models/part3 only: the
// photo arrives as bytes on stdin, so estimating needs no other permission.
import { createKeypointEstimator } from "../../mod.ts";

const bytes = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
const estimator = await createKeypointEstimator({ model: "part3" });
const [face] = await estimator.estimate(bytes, { box: { x: 354, y: 282, width: 84, height: 99 } });
estimator.dispose();
console.log(face.keypoints.length);
