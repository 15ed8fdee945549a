"""A training DataLoader whose samples are a function of (seed, epoch, position) alone.

mmengine seeds each loader worker once, when it starts (``seed + worker_id``), and its
sampler per epoch (``seed + epoch``). The sampler part is exact, but the augmentation draws
(flips, crops, ...) come from the worker's running generator: they depend on how many
samples that worker has produced since it started, so a run resumed from a checkpoint
(whose workers start afresh) augments differently from the uninterrupted run, and the
result changes with ``num_workers``. Here every sample's pipeline runs under a seed derived
from (run seed, rank, epoch, position in the epoch), and the batch sampler can start an
epoch part-way through, without loading the batches it skips.
"""
from torch.utils.data import DataLoader

from .random_state import sample_seed, seeded


class EpochBatchSampler:
    """Wraps the loader's batch sampler: yields ``(index, seed)`` pairs and can skip the
    first ``skip`` batches of an epoch. The inner sampler (mmengine's ``DefaultSampler``)
    shuffles with ``seed + epoch``, so the batches of an epoch are the same on every run.
    """

    def __init__(self, batch_sampler, seed, rank=0):
        self.batch_sampler = batch_sampler
        self.seed, self.rank = int(seed), int(rank)
        self.epoch, self.skip = 0, 0

    @property
    def sampler(self):  # mmengine's DistSamplerSeedHook sets the epoch through this
        return self.batch_sampler.sampler

    def start_epoch(self, epoch, skip=0):
        self.epoch, self.skip = int(epoch), int(skip)
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(self.epoch)

    def __len__(self):
        return len(self.batch_sampler)

    def __iter__(self):
        position = 0
        for b, batch in enumerate(self.batch_sampler):
            if b >= self.skip:
                yield [(int(i), sample_seed(self.seed, self.rank, self.epoch, position + j))
                       for j, i in enumerate(batch)]
            position += len(batch)


class SeededDataset:
    """The dataset seen through :class:`EpochBatchSampler`: item ``(index, seed)`` runs the
    wrapped dataset's ``[index]`` under ``seed``. Other attributes (``metainfo``, ...)
    are the wrapped dataset's."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __getitem__(self, key):
        index, seed = key
        with seeded(seed):
            return self.dataset[index]

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):
        if name == 'dataset':  # not yet set (e.g. while unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)


def seeded_dataloader(loader, seed, rank=0):
    """The same loader (dataset, batches, workers, collate) with per-sample seeding.

    The loader gets its own torch generator, so creating its iterator (which draws a base
    seed for the workers) no longer consumes the training process's global generator.
    """
    if not isinstance(loader, DataLoader) or loader.batch_sampler is None:
        raise TypeError('ResumableEpochBasedTrainLoop needs a map-style DataLoader with a '
                        f'batch sampler, got {type(loader).__name__}')
    import torch
    kwargs = dict(num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                  pin_memory=loader.pin_memory, timeout=loader.timeout,
                  worker_init_fn=loader.worker_init_fn,
                  generator=torch.Generator().manual_seed(int(seed)),
                  persistent_workers=loader.persistent_workers)
    if loader.num_workers > 0:
        kwargs['prefetch_factor'] = loader.prefetch_factor
    return DataLoader(SeededDataset(loader.dataset),
                      batch_sampler=EpochBatchSampler(loader.batch_sampler, seed, rank),
                      **kwargs)
