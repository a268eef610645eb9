import torch

# The tests use small tensors: one thread is as fast, and it avoids OpenMP spin-waiting stalls when the
# machine's cores are busy with other work.
torch.set_num_threads(1)
