// lasor demo page: upload a photo, show the pictures and the rigged .glb in three.js.
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';

const $ = (id) => document.getElementById(id);
const status = (text, error = false) => {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
};
window.lasorState = 'idle'; // read by the browser test: idle | busy | done | error

let viewer = null;
function makeViewer() {
  const el = $('viewer');
  const renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(el.clientWidth, el.clientHeight);
  el.appendChild(renderer.domElement);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xffffff);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 2.0));
  const sun = new THREE.DirectionalLight(0xffffff, 2.0);
  sun.position.set(1, 2, 3);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, el.clientWidth / el.clientHeight, 0.01, 100);
  const controls = new OrbitControls(camera, renderer.domElement);
  const loop = () => { controls.update(); renderer.render(scene, camera); requestAnimationFrame(loop); };
  loop();
  return { scene, camera, controls, body: null };
}

function showGlb(url) {
  viewer = viewer || makeViewer();
  return new Promise((resolve, reject) => {
    new GLTFLoader().load(url, (gltf) => {
      if (viewer.body) viewer.scene.remove(viewer.body);
      viewer.body = gltf.scene;
      viewer.scene.add(gltf.scene);
      gltf.scene.updateMatrixWorld(true);
      const box = new THREE.Box3().setFromObject(gltf.scene, true);
      const center = box.getCenter(new THREE.Vector3());
      const size = box.getSize(new THREE.Vector3()).length();
      // look from the photo's camera side (the body faces +Z, towards the origin)
      viewer.camera.position.set(center.x + 0.6 * size, center.y + 0.1 * size, center.z + 1.6 * size);
      viewer.controls.target.copy(center);
      viewer.controls.update();
      resolve();
    }, undefined, reject);
  });
}

async function upload(file) {
  window.lasorState = 'busy';
  status(`${file.name}: computing the body ...`);
  try {
    const res = await fetch('/api/predict', { method: 'POST', body: file,
      headers: { 'Content-Type': file.type || 'application/octet-stream' } });
    const ans = await res.json();
    if (!ans.ok) throw new Error(ans.error || `HTTP ${res.status}`);
    $('overlay').src = ans.files.overlay;
    $('side').src = ans.files.side;
    $('dl-glb').href = ans.files.glb;
    $('dl-npz').href = ans.files.npz;
    $('results').hidden = false;
    await showGlb(ans.files.glb);
    status(`${file.name}: done in ${ans.seconds} s (${ans.size[0]}x${ans.size[1]} px)`);
    window.lasorState = 'done';
  } catch (e) {
    status(`${file.name}: ${e.message}`, true);
    window.lasorState = 'error';
  }
}

$('file').addEventListener('change', (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
});
