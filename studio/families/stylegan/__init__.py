"""Imported StyleGAN2 / StyleGAN3 models: NVIDIA's network pickles read as data only
(pickle_reader.py), the studio's own generators (networks.py, on the ops in ops.py), the
import into a studio model folder (importer.py) and the loaded model's ops (family.py)."""
