import sys, time, torch, math
sys.path.insert(0, "bench")
from quality import OursRunner, colour_stats
from generative.datasets.emoji import load_emoji
from pathlib import Path
torch.set_num_threads(1)
w = float(sys.argv[1]); steps = int(sys.argv[2])
data = load_emoji(size=32, cache_dir=Path("var/cache/emoji"))
train, held = data.split(holdout_fraction=0.15, seed=10)
uint8 = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
r = OursRunner(data=uint8, resolution=32, batch_size=32, seed=10, train_overrides={"colour_weight": w})
held_t = held.to_tensor()
print("held", {k: round(v, 3) for k, v in colour_stats(held_t).items()}, flush=True)
t0 = time.time(); gaps = []
for i in range(1, steps + 1):
    l = r.trainer.train_step(); gaps.append(l["colour_gap"])
    if i % 250 == 0:
        s = colour_stats(r.sample(512, seed=1))
        print(i, f"{time.time()-t0:.0f}s gap(mean last 250) {sum(gaps[-250:])/250:.2f} loss_g {l['loss_g']:.2f}",
              {k: round(v, 3) for k, v in s.items()}, flush=True)
