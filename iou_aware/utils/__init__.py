from .dataset_checks import DatasetError, check_dataset_files

__all__ = ['DatasetError', 'check_dataset_files']
