// Jitterbug's browser client: one WHIP call against the agent behind the harness, sending a
// clip and recording what was sent and what came back, with a getStats time series.
//
// The harness serves this page, /config.json, /clip.wav, proxies POST /whip to the agent and
// receives POST /audio (2-channel WAV: ch0 sent, ch1 received) and POST /result (JSON). It
// polls window.__done over WebDriver. Promise-based WebRTC and WebAudio APIs only (Safari
// has no callback variants).
'use strict';

(function () {
  const RATE = 48000;
  const GATHER_CAP_MS = 5000;
  const CONNECT_TIMEOUT_MS = 15000;
  const CONTEXT_START_TIMEOUT_MS = 10000;
  // Fields copied from the audio inbound-rtp report; a missing one is recorded as null.
  const INBOUND_FIELDS = [
    'jitter', 'packetsLost', 'packetsReceived', 'jitterBufferDelay', 'jitterBufferTargetDelay',
    'jitterBufferEmittedCount', 'concealedSamples', 'silentConcealedSamples', 'concealmentEvents',
    'insertedSamplesForDeceleration', 'removedSamplesForAcceleration', 'totalSamplesReceived',
    'fecPacketsReceived', 'fecPacketsDiscarded', 'audioLevel',
  ];
  const OUTBOUND_FIELDS = ['packetsSent', 'bytesSent', 'targetBitrate'];
  const MIC_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

  const pageStart = performance.now();
  // Everything the page learns goes here; an error result carries whatever was collected.
  const report = { user_agent: navigator.userAgent, errors: [] };

  function status(text) {
    const el = document.getElementById('status');
    if (el) el.textContent = text;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function round(ms) {
    return Math.round(ms * 10) / 10;
  }

  async function waitFor(predicate, timeoutMs, what) {
    const end = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > end) throw new Error(`${what} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  // `promise`, or an error naming `what` after `ms`; the timer never outlives the race.
  function withTimeout(promise, ms, what) {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    });
    return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
  }

  async function fetchOk(path, init) {
    const response = await fetch(path, init);
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new Error(`${(init && init.method) || 'GET'} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
    }
    return response;
  }

  function postJson(path, value) {
    return fetchOk(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });
  }

  // What this browser lacks for a call; WebKitGTK as Debian builds it has no RTCPeerConnection.
  function missingApis() {
    const missing = [];
    if (typeof RTCPeerConnection === 'undefined') missing.push('RTCPeerConnection');
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== 'function') {
      missing.push('navigator.mediaDevices.getUserMedia');
    }
    if (typeof AudioContext === 'undefined') missing.push('AudioContext');
    if (typeof AudioWorkletNode === 'undefined') missing.push('AudioWorkletNode');
    return missing;
  }

  // A voice client opens the microphone with voice processing on; it also unlocks ICE
  // candidates (both browsers hide local addresses from pages without a media grant).
  async function openMicrophone() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
    const track = stream.getAudioTracks()[0];
    if (!track) throw new Error('getUserMedia returned no audio track');
    return stream;
  }

  function recordCaptureSettings(track) {
    const settings = track.getSettings();
    report.capture_settings = Object.assign({}, settings);
    report.constraints = {};
    for (const name of Object.keys(MIC_CONSTRAINTS)) report.constraints[name] = settings[name] === MIC_CONSTRAINTS[name];
    report.constraints_ok = Object.values(report.constraints).every(Boolean);
  }

  // Firefox's context stays suspended until its sound server answers (about 1.5 s on Pulse).
  async function startAudioContext() {
    const ctx = new AudioContext({ sampleRate: RATE });
    const started = performance.now();
    await ctx.resume();
    await waitFor(() => ctx.state === 'running', CONTEXT_START_TIMEOUT_MS, `AudioContext did not start (state ${ctx.state})`);
    report.audio_context = { sample_rate: ctx.sampleRate, start_ms: round(performance.now() - started), base_latency: ctx.baseLatency || null };
    if (ctx.sampleRate !== RATE) throw new Error(`AudioContext runs at ${ctx.sampleRate} Hz, not ${RATE}`);
    return ctx;
  }

  // The clip through Web Audio into a MediaStream track. The ConstantSource keeps the track
  // producing frames after the clip ends (Chromium stops sending RTP when a buffer source ends).
  async function clipTrack(ctx) {
    const bytes = await (await fetchOk('/clip.wav')).arrayBuffer();
    const buffer = await ctx.decodeAudioData(bytes);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    const destination = ctx.createMediaStreamDestination();
    destination.channelCount = 1;
    source.connect(destination);
    const keepAlive = ctx.createConstantSource();
    keepAlive.offset.value = 0;
    keepAlive.connect(destination);
    keepAlive.start();
    report.clip = { seconds: buffer.duration, sample_rate: buffer.sampleRate, channels: buffer.numberOfChannels };
    return { source, keepAlive, track: destination.stream.getAudioTracks()[0] };
  }

  // Opus first; RED only when allowed (browsers put it first when offered).
  function preferCodecs(transceiver, allowRed) {
    if (typeof transceiver.setCodecPreferences !== 'function' || typeof RTCRtpReceiver.getCapabilities !== 'function') {
      report.errors.push('setCodecPreferences is not available: the browser default codec order was offered');
      return;
    }
    const capabilities = RTCRtpReceiver.getCapabilities('audio');
    let codecs = capabilities ? capabilities.codecs.slice() : [];
    if (!allowRed) codecs = codecs.filter((c) => c.mimeType.toLowerCase() !== 'audio/red');
    const isOpus = (c) => c.mimeType.toLowerCase() === 'audio/opus';
    codecs = codecs.filter(isOpus).concat(codecs.filter((c) => !isOpus(c)));
    if (!codecs.some(isOpus)) throw new Error('this browser cannot receive Opus');
    transceiver.setCodecPreferences(codecs);
  }

  function trackStates(pc, t0) {
    report.ice_states = [[0, pc.iceConnectionState]];
    report.pc_states = [[0, pc.connectionState || null]];
    report.gathering_states = [[0, pc.iceGatheringState]];
    const at = () => round(performance.now() - t0);
    pc.addEventListener('iceconnectionstatechange', () => report.ice_states.push([at(), pc.iceConnectionState]));
    pc.addEventListener('connectionstatechange', () => report.pc_states.push([at(), pc.connectionState]));
    pc.addEventListener('icegatheringstatechange', () => report.gathering_states.push([at(), pc.iceGatheringState]));
  }

  // Non-trickle WHIP: the offer goes out with every candidate (or what 5 s gathered).
  async function negotiate(pc, t0) {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    try {
      await waitFor(() => pc.iceGatheringState === 'complete', GATHER_CAP_MS, 'ICE gathering did not complete');
    } catch (e) {
      report.errors.push(`${e.message}; offering the candidates gathered so far`);
    }
    report.gathered_ms = round(performance.now() - t0);
    const offerSdp = pc.localDescription.sdp;
    if (!/^a=candidate:/m.test(offerSdp)) report.errors.push('the offer carries no ICE candidate');
    const response = await fetchOk('/whip', { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offerSdp });
    if (response.status !== 201) throw new Error(`POST /whip: HTTP ${response.status}, expected 201 Created`);
    const location = response.headers.get('Location');
    const answerSdp = await response.text();
    report.answered_ms = round(performance.now() - t0);
    await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    return { offerSdp, answerSdp, location };
  }

  function isConnected(pc) {
    if (pc.connectionState) return pc.connectionState === 'connected';
    return pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed';
  }

  function hasFailed(pc) {
    return pc.connectionState === 'failed' || pc.iceConnectionState === 'failed';
  }

  async function waitConnected(pc) {
    const end = performance.now() + CONNECT_TIMEOUT_MS;
    while (!isConnected(pc)) {
      if (hasFailed(pc)) throw new Error(`connection failed (ICE ${pc.iceConnectionState})`);
      if (performance.now() > end) {
        throw new Error(`not connected within ${CONNECT_TIMEOUT_MS} ms (ICE ${pc.iceConnectionState}, pc ${pc.connectionState})`);
      }
      await sleep(5);
    }
  }

  // The first audio m-section of an SDP: payload types in order, rtpmap, fmtp and ptime.
  function audioSection(sdp) {
    const lines = sdp.split(/\r?\n/);
    const start = lines.findIndex((l) => l.startsWith('m=audio'));
    if (start < 0) return null;
    let end = lines.findIndex((l, i) => i > start && l.startsWith('m='));
    if (end < 0) end = lines.length;
    const section = { order: lines[start].split(' ').slice(3), rtpmap: {}, fmtp: {}, ptime: null, maxptime: null };
    for (const line of lines.slice(start + 1, end)) {
      let m;
      if ((m = /^a=rtpmap:(\d+) (.+)$/.exec(line))) section.rtpmap[m[1]] = m[2];
      else if ((m = /^a=fmtp:(\d+) (.+)$/.exec(line))) section.fmtp[m[1]] = m[2];
      else if ((m = /^a=ptime:(\d+)/.exec(line))) section.ptime = Number(m[1]);
      else if ((m = /^a=maxptime:(\d+)/.exec(line))) section.maxptime = Number(m[1]);
    }
    return section;
  }

  function codecName(rtpmap) {
    return rtpmap ? rtpmap.split('/')[0].toLowerCase() : null;
  }

  // What the answer chose (its first payload type) with the fmtp either side asked for.
  function describeNegotiation(offerSdp, answerSdp) {
    const offer = audioSection(offerSdp);
    const answer = audioSection(answerSdp);
    if (!offer || !answer) throw new Error('no audio m-section in the offer or the answer');
    const pt = answer.order[0];
    const rtpmap = answer.rtpmap[pt] || null;
    const name = codecName(rtpmap);
    const offerPt = Object.keys(offer.rtpmap).find((p) => codecName(offer.rtpmap[p]) === name);
    const mimes = (s) => s.order.map((p) => s.rtpmap[p] ? `audio/${s.rtpmap[p]}` : `pt ${p}`);
    return {
      codec: name ? `audio/${name}` : null,
      rtpmap,
      payload_type: Number(pt),
      fmtp_answer: answer.fmtp[pt] || null,
      fmtp_offer: offerPt ? offer.fmtp[offerPt] || null : null,
      red_negotiated: answer.order.some((p) => codecName(answer.rtpmap[p]) === 'red'),
      ptime: answer.ptime,
      maxptime: answer.maxptime,
      offer_ptime: offer.ptime,
      offer_codecs: mimes(offer),
      answer_codecs: mimes(answer),
    };
  }

  function pick(reportObject, fields) {
    const out = {};
    for (const f of fields) out[f] = typeof reportObject[f] === 'number' ? reportObject[f] : null;
    return out;
  }

  // Chromium names the selected pair on the transport; Firefox flags it `selected`.
  function selectedPair(stats) {
    let pair = null;
    stats.forEach((r) => {
      if (r.type === 'transport' && r.selectedCandidatePairId && stats.get(r.selectedCandidatePairId)) {
        pair = stats.get(r.selectedCandidatePairId);
      }
    });
    if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.selected) pair = r; });
    if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') pair = r; });
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId) || {};
    const remote = stats.get(pair.remoteCandidateId) || {};
    return {
      current_round_trip_time: typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime : null,
      local_type: local.candidateType || null,
      remote_type: remote.candidateType || null,
      protocol: local.protocol || null,
      relay_protocol: local.relayProtocol || null,
      local_address: local.address ? `${local.address}:${local.port}` : null,
      remote_address: remote.address ? `${remote.address}:${remote.port}` : null,
    };
  }

  // One sample; inbound is null until media arrives (Firefox has no report before that).
  async function sample(pc, t0) {
    const stats = await pc.getStats();
    const out = { t_ms: round(performance.now() - t0), inbound: null, outbound: null, pair: selectedPair(stats), codec_in_use: null };
    stats.forEach((r) => {
      const audio = r.kind === 'audio' || r.mediaType === 'audio';
      if (r.type === 'inbound-rtp' && audio) {
        out.inbound = pick(r, INBOUND_FIELDS);
        const codec = r.codecId && stats.get(r.codecId);
        if (codec) out.codec_in_use = { mime: codec.mimeType || null, payload_type: codec.payloadType, fmtp: codec.sdpFmtpLine || null };
      } else if (r.type === 'outbound-rtp' && audio) {
        out.outbound = pick(r, OUTBOUND_FIELDS);
      }
    });
    return out;
  }

  // Samples every interval until stopped; a failing getStats is an error entry, not the end.
  function startStats(pc, t0, intervalMs) {
    const series = [];
    report.stats = series;
    let running = true;
    const loop = (async () => {
      while (running) {
        try {
          series.push(await sample(pc, t0));
        } catch (e) {
          report.errors.push(`getStats: ${e.message}`);
        }
        await sleep(intervalMs);
      }
    })();
    return {
      series,
      async stop() {
        running = false;
        await loop;
      },
    };
  }

  // The recorder's chunks and its end, as a promise of the two channels.
  function collectCapture(node) {
    const ch0 = [];
    const ch1 = [];
    return new Promise((resolve) => {
      node.port.onmessage = (ev) => {
        if (ev.data.done) resolve({ ch0, ch1, frames: ev.data.frames });
        else {
          ch0.push(ev.data.ch0);
          ch1.push(ev.data.ch1);
        }
      };
    });
  }

  function concat(chunks) {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const out = new Float32Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  // 2-channel 16-bit PCM WAV at 48 kHz: ch0 sent, ch1 received.
  function encodeWav(ch0, ch1) {
    const frames = Math.min(ch0.length, ch1.length);
    const view = new DataView(new ArrayBuffer(44 + frames * 4));
    const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
    text(0, 'RIFF');
    view.setUint32(4, 36 + frames * 4, true);
    text(8, 'WAVE');
    text(12, 'fmt ');
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true);
    view.setUint16(22, 2, true);
    view.setUint32(24, RATE, true);
    view.setUint32(28, RATE * 4, true);
    view.setUint16(32, 4, true);
    view.setUint16(34, 16, true);
    text(36, 'data');
    view.setUint32(40, frames * 4, true);
    const pcm = (x) => { const s = Math.max(-1, Math.min(1, x)); return Math.round(s < 0 ? s * 32768 : s * 32767); };
    for (let i = 0, at = 44; i < frames; i++, at += 4) {
      view.setInt16(at, pcm(ch0[i]), true);
      view.setInt16(at + 2, pcm(ch1[i]), true);
    }
    return view.buffer;
  }

  async function call(config) {
    const cleanup = [];
    try {
      status('opening the microphone');
      const mic = await openMicrophone();
      cleanup.push(() => mic.getTracks().forEach((t) => t.stop()));
      recordCaptureSettings(mic.getAudioTracks()[0]);

      status('starting the audio context');
      const ctx = await startAudioContext();
      cleanup.push(() => ctx.close());
      await ctx.audioWorklet.addModule('capture-worklet.js');
      const recorder = new AudioWorkletNode(ctx, 'jitterbug-capture', { numberOfInputs: 2, numberOfOutputs: 1, outputChannelCount: [1] });
      // The recorder must be pulled by the graph; a muted path to the output does that.
      const mute = ctx.createGain();
      mute.gain.value = 0;
      recorder.connect(mute).connect(ctx.destination);

      let clip = null;
      let sendTrack = mic.getAudioTracks()[0];
      if (config.source === 'webaudio') {
        clip = await clipTrack(ctx);
        clip.source.connect(recorder, 0, 0);
        sendTrack = clip.track;
      } else if (config.source !== 'fake-capture') {
        throw new Error(`unknown source ${JSON.stringify(config.source)}`);
      }

      const pc = new RTCPeerConnection({ iceServers: config.ice_servers, iceTransportPolicy: config.ice_transport_policy });
      cleanup.push(() => pc.close());
      const transceiver = pc.addTransceiver(sendTrack, { direction: 'sendrecv' });
      preferCodecs(transceiver, config.allow_red);
      const remote = new Promise((resolve) => {
        pc.addEventListener('track', (ev) => resolve(ev.streams[0] || new MediaStream([ev.track])));
      });

      status('negotiating');
      const t0 = performance.now();
      report.offer_unix_ms = performance.timeOrigin + t0;
      trackStates(pc, t0);
      const stats = startStats(pc, t0, config.stats_interval_ms);
      cleanup.push(() => stats.stop());
      const { offerSdp, answerSdp, location } = await negotiate(pc, t0);
      report.negotiated = describeNegotiation(offerSdp, answerSdp);
      report.whip_location = location;

      const remoteStream = await withTimeout(remote, CONNECT_TIMEOUT_MS, 'no remote track');
      const audio = document.getElementById('remote');
      audio.muted = false;
      audio.volume = 1;
      audio.srcObject = remoteStream;
      audio.play().catch((e) => report.errors.push(`<audio>.play(): ${e.message}`));
      ctx.createMediaStreamSource(remoteStream).connect(recorder, 0, 1);

      await waitConnected(pc);
      report.connected_ms = round(performance.now() - t0);
      status('connected');

      // Media starts on a render-quantum boundary so ch0 begins with the clip's first sample.
      const startFrame = Math.ceil((ctx.currentTime + 0.05) * RATE / 128) * 128;
      const sendFrames = Math.round(config.duration_s * RATE);
      const stopFrame = startFrame + sendFrames + Math.round(config.tail_s * RATE);
      const capture = collectCapture(recorder);
      recorder.port.postMessage({ cmd: 'start', startFrame, stopFrame });
      if (clip) {
        clip.source.start(startFrame / RATE);
        clip.source.stop((startFrame + sendFrames) / RATE);
      } else {
        await restartFakeCapture(ctx, transceiver, recorder, mic, cleanup);
      }
      report.media_start_ms = round(performance.now() - t0 + Math.max(0, startFrame / RATE - ctx.currentTime) * 1000);

      const wallStart = performance.now();
      const expectedMs = (stopFrame - startFrame) / RATE * 1000;
      const captured = await withTimeout(capture, expectedMs + 10000, 'the recorder did not finish');
      report.capture = { frames: captured.frames, audio_ms: captured.frames / RATE * 1000, wall_ms: round(performance.now() - wallStart) };

      await stats.stop();
      const last = stats.series.slice().reverse().find((s) => s.pair);
      report.selected_pair = last ? last.pair : null;
      const inUse = stats.series.slice().reverse().find((s) => s.codec_in_use);
      report.codec_in_use = inUse ? inUse.codec_in_use : null;

      pc.close();
      if (location) {
        await fetch(location, { method: 'DELETE' })
          .then((r) => { if (!r.ok) report.errors.push(`DELETE ${location}: HTTP ${r.status}`); })
          .catch((e) => report.errors.push(`DELETE ${location}: ${e.message}`));
      }
      return encodeWav(concat(captured.ch0), concat(captured.ch1));
    } finally {
      for (const undo of cleanup.reverse()) {
        try {
          await undo();
        } catch (e) {
          report.errors.push(`cleanup: ${e.message}`);
        }
      }
    }
  }

  // Fake capture (Chromium's --use-file-for-fake-audio-capture) plays its file from when a
  // capture opens: reopen it now so the clip starts with the media, and send that track.
  async function restartFakeCapture(ctx, transceiver, recorder, mic, cleanup) {
    mic.getTracks().forEach((t) => t.stop());
    const fresh = await navigator.mediaDevices.getUserMedia({ audio: MIC_CONSTRAINTS });
    cleanup.push(() => fresh.getTracks().forEach((t) => t.stop()));
    const track = fresh.getAudioTracks()[0];
    await transceiver.sender.replaceTrack(track);
    ctx.createMediaStreamSource(fresh).connect(recorder, 0, 0);
  }

  async function main() {
    const missing = missingApis();
    if (missing.length) {
      const reason = `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not available in this browser build`;
      await postJson('/result', { user_agent: navigator.userAgent, unsupported: reason, missing });
      window.__done = { ok: false, unsupported: reason };
      status(`unsupported: ${reason}`);
      return;
    }
    const config = await (await fetchOk('/config.json')).json();
    const wav = await call(config);
    report.page_ms = round(performance.now() - pageStart);
    status('uploading');
    await fetchOk('/audio', { method: 'POST', headers: { 'Content-Type': 'audio/wav' }, body: wav });
    await postJson('/result', report);
    window.__done = { ok: true };
    status('done');
  }

  main().catch(async (e) => {
    const error = e && e.message ? e.message : String(e);
    const failure = Object.assign({}, report, { error, stack: (e && e.stack) || null });
    try {
      await postJson('/result', failure);
    } catch (postError) {
      failure.errors.push(`POST /result: ${postError.message}`);
    }
    window.__done = { ok: false, error };
    status(`error: ${error}`);
  });
})();
