import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
const names = ["Abs","Neg","Sqrt","Square","Exp","Log","Relu","Relu6","Elu","Sigmoid","Tanh","Rsqrt","Reciprocal","Sign","Step","LeakyRelu","ClipByValue","Cast","ZerosLike","OnesLike","Add","Sub","Mul","Multiply","RealDiv","Maximum","Minimum","Pow","SquaredDifference","Prelu","AddN","Select","Greater","GreaterEqual","Less","LessEqual","Equal","NotEqual","Fill","PadV2","Slice","Concat","_FusedMatMul","BatchMatMul"];
console.log(names.filter(n => !tf.getKernel(n, "webgpu")));
