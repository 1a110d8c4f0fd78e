"""itk-ioomezarrngff 0.2.1 (ITK 5.3, C++ tensorstore writer): itk.imwrite of a z,y,x uint16 image with spacing
(ITK images have no channel axis here), file name ending in .ome.zarr."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import itk
p = fresh("itk.ome.zarr")
img = itk.image_from_array(image((4, 64, 64)))
img.SetSpacing([0.5, 0.5, 2.0])
itk.imwrite(img, p)
