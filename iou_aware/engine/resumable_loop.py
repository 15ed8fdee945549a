"""An epoch-based training loop that resumes exactly, from epoch or iteration checkpoints.

What mmengine 0.10.7 already gives: checkpoints carry the model, optimizer, parameter
schedulers, message hub, epoch and iteration, and the run's seed (re-applied on resume);
its ``DefaultSampler`` shuffles each epoch with ``seed + epoch``.

What it lacks, and this loop adds (see README "Resume"):

1. The global random state (Python, NumPy, torch) at the moment of the checkpoint, which
   the model's own draws consume (RPN/RoI samplers, IoU-Net's jittered boxes). Mmengine
   re-seeds on resume, so those draws restart from the run's beginning. Stored in the
   checkpoint by :class:`RandomStateHook`, restored before the first iteration that runs
   after the checkpoint.
2. Augmentation randomness that does not depend on worker processes: every sample's
   pipeline runs under a seed of (seed, rank, epoch, position); see ``seeded_loader``.
3. Mid-epoch resume: ``EpochBasedTrainLoop`` restarts a resumed epoch from its first batch
   while keeping the iteration counter; here the epoch continues at the next batch (the
   skipped ones are not loaded). With iteration-interval checkpoints
   (``tools/train.py --checkpoint-interval N``) a kill loses at most N iterations.
4. Draws that happen outside training do not shift it: validation runs with the random
   state preserved, and the loader's iterator draws from its own generator.
"""
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from mmdet.registry import HOOKS, LOOPS
from .random_state import get_random_state, preserved_random_state, set_random_state
from .seeded_loader import seeded_dataloader

CHECKPOINT_KEY = 'random_state'


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves the global random state in every checkpoint and keeps the one loaded from a
    checkpoint until the train loop restores it. Registered by
    :class:`ResumableEpochBasedTrainLoop`; configs need not list it."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self.loaded = None

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint[CHECKPOINT_KEY] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint):
        self.loaded = checkpoint.get(CHECKPOINT_KEY)

    def restore(self, runner):
        if self.loaded is None:
            runner.logger.warning(
                'the resumed checkpoint holds no random state (written without '
                'ResumableEpochBasedTrainLoop): training continues, but not exactly as the '
                'uninterrupted run would')
        else:
            set_random_state(self.loaded)
        self.loaded = None


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose training depends on (seed, epoch, iteration) alone, so
    that ``--resume`` from an epoch or iteration checkpoint reproduces the uninterrupted
    run bit for bit on CPU (tested). Same arguments as ``EpochBasedTrainLoop``."""

    def __init__(self, runner, dataloader, *args, **kwargs):
        super().__init__(runner, dataloader, *args, **kwargs)
        self.dataloader = seeded_dataloader(self.dataloader, runner.seed, get_rank())
        self.random_state_hook = RandomStateHook()
        runner.register_hook(self.random_state_hook)

    def run(self):
        self.runner.call_hook('before_train')
        resumed = self._iter > 0
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch(restore=resumed)
            resumed = False
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0
                         or self._epoch == self._max_epochs)):
                with preserved_random_state():
                    self.runner.val_loop.run()
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self, restore=False):
        # Restore at the point where the uninterrupted run stood when it saved: before the
        # epoch's hooks for an epoch checkpoint, after them for a mid-epoch one.
        skip = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= skip < len(self.dataloader):
            raise RuntimeError(
                f'cannot resume at iteration {self._iter} of epoch {self._epoch + 1}: the '
                f'epoch has {len(self.dataloader)} batches (did the dataset or batch size '
                'change since the checkpoint?)')
        self.dataloader.batch_sampler.start_epoch(self._epoch, skip)
        if restore and skip == 0:
            self.random_state_hook.restore(self.runner)
        self.runner.call_hook('before_train_epoch')
        if restore and skip > 0:
            self.random_state_hook.restore(self.runner)
            self.runner.logger.info(f'resuming epoch {self._epoch + 1} at batch {skip + 1} '
                                    f'of {len(self.dataloader)}')
        self.runner.model.train()
        for idx, data_batch in enumerate(self.dataloader, start=skip):
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
