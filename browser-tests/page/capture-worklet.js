// Records two inputs in lockstep on the AudioContext clock: input 0 is the signal that goes
// into the sent track, input 1 the received track. Recording is frame-exact: it covers
// [startFrame, stopFrame) so the sent channel starts with the clip's first sample (the page
// starts the clip at startFrame, a render-quantum boundary). Chunks of mono Float32 (channels
// mixed down) go to the main thread about every 100 ms; then one {done} message.

const CHUNK_FRAMES = 4800;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.startFrame = -1;
    this.stopFrame = -1;
    this.frames = 0;
    this.finished = false;
    this.fresh();
    this.port.onmessage = (ev) => {
      const msg = ev.data;
      if (msg && msg.cmd === 'start') {
        this.startFrame = msg.startFrame;
        this.stopFrame = msg.stopFrame;
      }
    };
  }

  fresh() {
    this.buffers = [new Float32Array(CHUNK_FRAMES), new Float32Array(CHUNK_FRAMES)];
    this.fill = 0;
  }

  flush() {
    if (this.fill === 0) return;
    const ch0 = this.buffers[0].slice(0, this.fill);
    const ch1 = this.buffers[1].slice(0, this.fill);
    this.port.postMessage({ ch0, ch1 }, [ch0.buffer, ch1.buffer]);
    this.fresh();
  }

  process(inputs) {
    if (this.finished || this.startFrame < 0) return true;
    const quantum = (inputs[0][0] || inputs[1][0] || { length: 128 }).length;
    for (let i = 0; i < quantum; i++) {
      const frame = currentFrame + i;
      if (frame < this.startFrame) continue;
      if (frame >= this.stopFrame) {
        this.flush();
        this.finished = true;
        this.port.postMessage({ done: true, frames: this.frames });
        return false;
      }
      this.buffers[0][this.fill] = mono(inputs[0], i);
      this.buffers[1][this.fill] = mono(inputs[1], i);
      this.fill++;
      this.frames++;
      if (this.fill === CHUNK_FRAMES) this.flush();
    }
    return true;
  }
}

// An unconnected input has no channels: it records as silence.
function mono(channels, i) {
  if (!channels || channels.length === 0) return 0;
  let sum = 0;
  for (let c = 0; c < channels.length; c++) sum += channels[c][i];
  return sum / channels.length;
}

registerProcessor('jitterbug-capture', CaptureProcessor);
